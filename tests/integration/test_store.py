"""The results store, run against SQLite, a real PostgreSQL and a real MariaDB server.

PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and MariaDB (127.0.0.1:3306, root, no
password) get a throwaway database per test session, dropped afterwards; those variants skip
with the reason when the server is not reachable.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from quantforge.errors import ConfigError, NotFoundError, StoreError
from quantforge.experiment.config import load_experiment
from quantforge.store.repository import ResultStore, RunRecord, StoredRun
from quantforge.store.tables import HEADLINE_METRIC_TYPES

REPO = Path(__file__).resolve().parents[2]
SERVERS = {
    "postgresql": ("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", "postgresql+psycopg"),
    "mariadb": ("mysql+pymysql://root@127.0.0.1:3306/", "mysql+pymysql"),
}
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


@pytest.fixture(scope="session", params=["sqlite", "postgresql", "mariadb"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Yield a URL of an empty database of each kind; server databases are dropped afterwards."""
    kind = request.param
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'results.db'}"
        return
    admin_url, driver = SERVERS[kind]
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as e:
        admin.dispose()
        pytest.skip(f"{kind} server not reachable at {admin_url}: {str(e.orig).splitlines()[0]}")
    name = f"qf_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    host = "127.0.0.1:5432" if kind == "postgresql" else "127.0.0.1:3306"
    user = "postgres" if kind == "postgresql" else "root"
    try:
        yield f"{driver}://{user}@{host}/{name}"
    finally:
        with admin.connect() as connection:
            force = " WITH (FORCE)" if kind == "postgresql" else ""
            connection.execute(sa.text(f"DROP DATABASE {name}{force}"))
        admin.dispose()


@pytest.fixture
def store(database: str, tmp_path: Path) -> Iterator[ResultStore]:
    with ResultStore.open(database, artifacts_dir=tmp_path / "artifacts") as s:
        yield s


def record(i: int, **overrides: object) -> RunRecord:
    values: dict[str, object] = {
        "run_key": f"key-{i:05d}",
        "strategy": "ma_cross" if i % 2 == 0 else "regime_ma_cross",
        "params": {"fast": 5 + i % 8 * 5, "slow": 50 + i % 7 * 10, "mode": "ema"},
        "metrics": {
            "total_return": (i % 13 - 6) / 10,
            "sharpe": ((i * 37) % 101) / 25 - 2,
            "max_drawdown": (i % 9 + 1) / 50,
            "n_trades": i % 40,
            "pnl_to_max_drawdown": ((i * 53) % 97) / 10,
            "custom_stat": i / 3,
        },
        "symbol": "BTCUSDT",
        "started_at": T0,
        "finished_at": T0 + dt.timedelta(seconds=1.5),
        "duration_s": 1.5,
    }
    values.update(overrides)
    return RunRecord(**values)  # type: ignore[arg-type]


def experiment(store: ResultStore, name: str = "exp") -> int:
    return store.create_experiment(name, {"grid": "8x8"}, code_version="0.1.0")


def test_open_migrates_to_head_and_reopens(database: str) -> None:
    with ResultStore.open(database) as first:
        names = set(sa.inspect(first.engine).get_table_names())
        assert {"experiments", "runs", "artifacts", "quantforge_alembic_version"} <= names
        assert "alembic_version" not in names  # Alembic's default table is left to Optuna
        with first.engine.connect() as connection:
            version = connection.execute(
                sa.text("SELECT version_num FROM quantforge_alembic_version")
            )
            assert [row[0] for row in version] == ["0001"]
        columns = {c["name"] for c in sa.inspect(first.engine).get_columns("runs")}
        assert set(HEADLINE_METRIC_TYPES) <= columns
    with ResultStore.open(database) as again:  # idempotent
        assert "runs" in sa.inspect(again.engine).get_table_names()


def test_a_store_with_its_revision_in_alembic_version_is_converted(database: str) -> None:
    # the layout of stores made before the own version table: our "0001" in alembic_version,
    # next to Optuna's revision row when a study shared the database
    with ResultStore.open(database) as first:
        experiment_id = experiment(first)
        with first.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE quantforge_alembic_version"))
            connection.execute(
                sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            )
            connection.execute(sa.text("INSERT INTO alembic_version VALUES ('0001'), ('v3.2.0.a')"))
    with ResultStore.open(database) as again:
        with again.engine.connect() as connection:
            ours = connection.execute(sa.text("SELECT version_num FROM quantforge_alembic_version"))
            assert [row[0] for row in ours] == ["0001"]
            shared = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert [row[0] for row in shared] == ["v3.2.0.a"]  # Optuna's row stays
        assert again.experiments()["id"].to_list() == [experiment_id]  # nothing re-created
        with again.engine.begin() as connection:  # without Optuna's row the table goes
            connection.execute(sa.text("DROP TABLE quantforge_alembic_version"))
            connection.execute(sa.text("DELETE FROM alembic_version"))
            connection.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')"))
    with ResultStore.open(database) as third:
        names = set(sa.inspect(third.engine).get_table_names())
        assert "alembic_version" not in names
        assert "quantforge_alembic_version" in names


def test_experiment_roundtrip(store: ResultStore) -> None:
    config = load_experiment(REPO / "examples/experiments/naive_vs_regime_btc_15m.yaml")
    experiment_id = store.create_experiment(
        config.name,
        config,
        code_version="0.1.0",
        git_revision="a" * 40,
        data_fingerprint="f" * 32,
        created_at=T0,
    )
    got = store.get_experiment(experiment_id)
    assert got["name"] == "naive-vs-regime-btc-15m"
    assert got["config"] == json.loads(config.model_dump_json())
    assert got["created_at"] == T0  # microseconds and UTC survive every backend
    assert got["git_revision"] == "a" * 40
    with pytest.raises(NotFoundError, match="no experiment with id 999999"):
        store.get_experiment(999_999)


def test_add_runs_streams_and_resume_skips_known_keys(store: ResultStore) -> None:
    experiment_id = experiment(store)
    batch_size, n = 100, 1_050
    stored_when_yielded: list[int] = []

    def records() -> Iterator[RunRecord]:
        for i in range(n):
            if i % batch_size == 0:
                with store.engine.connect() as connection:
                    count = connection.execute(
                        sa.select(sa.func.count())
                        .select_from(sa.table("runs"))
                        .where(sa.column("experiment_id") == experiment_id)
                    ).scalar_one()
                stored_when_yielded.append(int(count))
            yield record(i)

    assert store.add_runs(experiment_id, records(), batch_size=batch_size) == n
    # batches were written while the generator was still producing: memory stays flat
    assert stored_when_yielded == [k * batch_size for k in range(len(stored_when_yielded))]
    keys = store.existing_keys(experiment_id)
    assert keys == {f"key-{i:05d}" for i in range(n)}
    # resume: only unseen keys are written
    assert store.add_runs(experiment_id, (record(i) for i in range(n - 10, n + 5))) == 5
    assert len(store.existing_keys(experiment_id)) == n + 5
    with pytest.raises(NotFoundError):
        store.existing_keys(987_654)
    with pytest.raises(NotFoundError):
        store.add_runs(987_654, [record(0)])


def test_errors_are_stored_and_can_be_replaced(store: ResultStore) -> None:
    experiment_id = experiment(store)
    failed = record(1, status="error", error="StrategyError: boom\nTraceback ...", metrics={})
    store.add_runs(experiment_id, [record(0), failed])
    assert store.existing_keys(experiment_id, include_errors=False) == {"key-00000"}
    errors = store.runs(experiment_id, status="error")
    assert errors["error"].to_list() == ["StrategyError: boom\nTraceback ..."]
    assert errors["sharpe"].to_list() == [None]
    assert store.add_runs(experiment_id, [record(1)]) == 0  # skipped: key known
    assert store.add_runs(experiment_id, [record(1)], replace=True) == 1
    assert store.runs(experiment_id, status="error").height == 0
    assert store.existing_keys(experiment_id, include_errors=False) == {"key-00000", "key-00001"}


def test_ranking_matches_a_python_oracle(store: ResultStore) -> None:
    experiment_id = experiment(store)
    records = [record(i) for i in range(60)]
    records.append(record(60, metrics={"sharpe": None}))  # no value: ranks last
    store.add_runs(experiment_id, records)
    for metric in ("sharpe", "pnl_to_max_drawdown", "max_drawdown"):
        for descending in (True, False):
            frame = store.runs(experiment_id, order_by=metric, descending=descending, limit=61)
            valued = sorted(
                (r for r in records if r.metrics.get(metric) is not None),
                key=lambda r: (-r.metrics[metric] if descending else r.metrics[metric], r.run_key),
            )
            missing = [r.run_key for r in records if r.metrics.get(metric) is None]
            assert frame["run_key"].to_list() == [r.run_key for r in valued] + missing
    top = store.runs(experiment_id, order_by="sharpe", limit=5)
    assert top.height == 5
    assert top["sharpe"].to_list() == sorted(top["sharpe"].to_list(), reverse=True)
    assert top.schema["sharpe"] == pl.Float64
    assert top.schema["n_trades"] == pl.Int64
    assert top.schema["started_at"] == pl.Datetime("us", "UTC")
    assert {"param.fast", "param.slow", "param.mode"} <= set(top.columns)
    only = store.runs(experiment_id, strategy="ma_cross")
    assert set(only["strategy"]) == {"ma_cross"}
    best = store.best(experiment_id, metric="sharpe")
    expected = max(
        (r for r in records if r.metrics.get("sharpe") is not None),
        key=lambda r: (r.metrics["sharpe"], -int(r.run_key[4:])),
    )
    assert best.run_key == expected.run_key
    assert best.params == expected.params
    assert best.metrics["custom_stat"] == pytest.approx(expected.metrics["custom_stat"])
    worst = store.best(experiment_id, metric="max_drawdown", descending=False)
    assert worst.metrics["max_drawdown"] == min(
        r.metrics["max_drawdown"] for r in records if "max_drawdown" in r.metrics
    )
    with pytest.raises(ConfigError, match="cannot order runs by 'sharp'"):
        store.runs(experiment_id, order_by="sharp")
    with pytest.raises(NotFoundError, match="no successful runs"):
        store.best(experiment(store, "empty"))


def test_non_finite_metrics(store: ResultStore) -> None:
    experiment_id = experiment(store)
    metrics = {"profit_factor": math.inf, "calmar": -math.inf, "sharpe": math.nan, "n_trades": 0}
    store.add_runs(experiment_id, [record(0, metrics=metrics)])
    row = store.runs(experiment_id)
    assert row["profit_factor"].to_list() == [None]
    assert row["calmar"].to_list() == [None]
    assert row["sharpe"].to_list() == [None]
    run = store.get_run(int(row["id"][0]))
    assert run.metrics["profit_factor"] == math.inf
    assert run.metrics["calmar"] == -math.inf
    assert math.isnan(run.metrics["sharpe"] or 0.0)
    assert run.metrics["n_trades"] == 0
    assert run.started_at == T0
    assert run.duration_s == 1.5
    assert isinstance(run.duration_s, float)


def _same_run(a: StoredRun, b: StoredRun) -> bool:
    # field by field; NaN metrics compare equal to NaN (dataclass equality would say no)
    def key(run: StoredRun) -> str:
        fields = {f: getattr(run, f) for f in StoredRun.__slots__ if f != "metrics"}
        metrics = {k: repr(v) for k, v in run.metrics.items()}
        return repr((sorted(fields.items()), sorted(metrics.items())))

    return key(a) == key(b)


def test_stored_ids_are_reported_and_from_record_matches_get_run(store: ResultStore) -> None:
    experiment_id = experiment(store)
    odd = record(
        2,
        metrics={"profit_factor": math.inf, "calmar": -math.inf, "sharpe": math.nan, "n": 3},
        params={"fast": 5, "ratio": 0.1 + 0.2, "mode": "ema", "flag": True, "when": T0},
        started_at=T0.astimezone(dt.timezone(dt.timedelta(hours=2))),
    )
    failed = record(3, status="error", error="ValueError: bad\nline two", metrics={})
    store.add_runs(experiment_id, [record(0)])
    seen: list[tuple[int, RunRecord]] = []
    records = [record(0), record(1), odd, failed]  # record(0) is already stored: skipped
    assert store.add_runs(experiment_id, records, batch_size=2, on_stored=seen.extend) == 3
    assert [r.run_key for _, r in seen] == ["key-00001", "key-00002", "key-00003"]
    assert len({i for i, _ in seen}) == 3
    for run_id, rec in seen:
        stored = store.get_run(run_id)
        assert stored.run_key == rec.run_key
        assert _same_run(StoredRun.from_record(run_id, experiment_id, rec), stored)


def test_artifacts_are_parquet_files_beside_the_store(store: ResultStore) -> None:
    experiment_id = experiment(store)
    trades = pl.DataFrame({"entry": [1.0, 2.0], "exit": [1.5, 1.8], "qty": [0.1, 0.2]})
    equity = pl.DataFrame({"t": [T0, T0 + dt.timedelta(minutes=15)], "equity": [1e4, 1.01e4]})
    store.add_runs(experiment_id, [record(0, trades=trades, equity=equity), record(1)])
    runs = store.runs(experiment_id, order_by="id", descending=False)
    with_files = store.get_run(int(runs["id"][0]))
    assert set(with_files.artifacts) == {"trades", "equity"}
    assert store.artifacts_dir is not None
    assert with_files.artifacts["trades"].is_relative_to(store.artifacts_dir)
    assert store.load_artifact(with_files.id, "trades").equals(trades)
    assert store.load_artifact(with_files.id, "equity").equals(equity)
    with pytest.raises(NotFoundError, match="no trades artifact"):
        store.load_artifact(int(runs["id"][1]), "trades")
    with pytest.raises(NotFoundError, match="no run with id"):
        store.get_run(10**8)


def test_artifacts_attached_to_a_stored_run_keep_its_id(store: ResultStore) -> None:
    experiment_id = experiment(store)
    store.add_runs(experiment_id, [record(0), record(1)])
    ids = store.runs(experiment_id, order_by="id", descending=False)["id"].to_list()
    before = store.get_run(int(ids[0]))
    assert before.artifacts == {}
    trades = pl.DataFrame({"entry": [1.0], "exit": [1.5]})
    paths = store.attach_artifacts(before.id, trades=trades)
    assert set(paths) == {"trades"}
    equity = pl.DataFrame({"t": [T0], "equity": [1e4]})
    paths = store.attach_artifacts(before.id, equity=equity)
    assert set(paths) == {"trades", "equity"}
    newer = pl.DataFrame({"entry": [2.0, 3.0], "exit": [2.5, 3.5]})
    store.attach_artifacts(before.id, trades=newer)  # same kind again: replaced
    after = store.get_run(before.id)
    assert after.id == before.id
    assert after.metrics == before.metrics
    assert after.params == before.params
    assert store.runs(experiment_id, order_by="id", descending=False)["id"].to_list() == ids
    assert store.load_artifact(before.id, "trades").equals(newer)
    assert store.load_artifact(before.id, "equity").equals(equity)
    folder = after.artifacts["trades"].parent
    assert sorted(p.name for p in folder.iterdir()) == ["equity.parquet", "trades.parquet"]
    with pytest.raises(NotFoundError, match="no run with id"):
        store.attach_artifacts(10**8, trades=trades)


def test_artifacts_need_a_folder(database: str) -> None:
    # a SQLite file always has a folder beside it; an in-memory SQLite database has none
    url = "sqlite://" if database.startswith("sqlite") else database
    with ResultStore.open(url) as bare:
        assert bare.artifacts_dir is None
        experiment_id = experiment(bare)
        with pytest.raises(StoreError, match="artifacts_dir"):
            bare.add_runs(experiment_id, [record(0, trades=pl.DataFrame({"x": [1]}))])
        assert bare.existing_keys(experiment_id) == set()  # nothing half-written


def test_export_formats(store: ResultStore, tmp_path: Path) -> None:
    experiment_id = experiment(store)
    store.add_runs(experiment_id, [record(i) for i in range(12)])
    expected = store.runs(experiment_id, status="all")
    csv = pl.read_csv(store.export(experiment_id, tmp_path / "out" / "runs.csv"))
    assert csv["run_key"].to_list() == expected["run_key"].to_list()
    assert csv["sharpe"].to_list() == pytest.approx(expected["sharpe"].to_list())
    parquet = pl.read_parquet(store.export(experiment_id, tmp_path / "runs.parquet"))
    assert parquet.equals(expected)
    rows = json.loads((store.export(experiment_id, tmp_path / "runs.json")).read_text())
    assert [r["run_key"] for r in rows] == expected["run_key"].to_list()
    with pytest.raises(ConfigError, match=r"\.csv, \.parquet or \.json"):
        store.export(experiment_id, tmp_path / "runs.xlsx")


def test_experiment_listing(store: ResultStore) -> None:
    first = experiment(store, "listing-a")
    second = experiment(store, "listing-b")
    store.add_runs(first, [record(0), record(1, status="error", error="x", metrics={})])
    listing = store.experiments().filter(pl.col("id").is_in([first, second]))
    counts = {row["id"]: (row["n_runs"], row["n_errors"]) for row in listing.iter_rows(named=True)}
    assert counts == {first: (2, 1), second: (0, 0)}


def test_iter_runs_streams_every_run(store: ResultStore) -> None:
    experiment_id = experiment(store)
    store.add_runs(experiment_id, [record(i) for i in range(25)])
    keys = [run.run_key for run in store.iter_runs(experiment_id)]
    assert keys == [f"key-{i:05d}" for i in range(25)]


def test_unreachable_and_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot reach or migrate"):
        ResultStore.open("postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        ResultStore.open("results.db")
    store = ResultStore.open(f"sqlite:///{tmp_path / 'deep' / 'er' / 'r.db'}")
    assert store.artifacts_dir == tmp_path / "deep" / "er" / "artifacts"
    store.close()


def test_concurrent_writers_store_each_key_once(store: ResultStore, database: str) -> None:
    experiment_id = experiment(store)
    records = [record(i) for i in range(400)]
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            with ResultStore.open(database, artifacts_dir=store.artifacts_dir) as other:
                # overlapping halves, small batches: the writers race on the same keys
                other.add_runs(experiment_id, records[offset : offset + 300], batch_size=25)
        except BaseException as e:  # re-raised in the main thread below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(k,)) for k in (0, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.existing_keys(experiment_id) == {r.run_key for r in records}
    assert store.runs(experiment_id, status="all").height == 400
