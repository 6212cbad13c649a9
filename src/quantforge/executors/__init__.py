"""Where runs execute: the `Executor` protocol, the local process pool and the Ray backend."""

from __future__ import annotations

from quantforge.executors.base import Executor, TaskResult, TaskStatus
from quantforge.executors.local import LocalExecutor
from quantforge.executors.ray import RayExecutor

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "TaskResult", "TaskStatus"]
