"""Command line parsing and the top-level error handling that turns failures into the
final `error` event plus exit code."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from .drift_command import DriftOptions, run_drift
from .entrypoints import traceback_tail
from .errors import INTERNAL_ERROR_EXIT_CODE, INTERNAL_ERROR_KIND, RuntimeFailure, UsageError
from .evaluate_command import EvaluateOptions, run_evaluate
from .protocol import ProtocolWriter, user_output_captured
from .serve_command import ServeOptions, run_serve
from .train_command import TrainOptions, run_train

MAX_SEED = 2**32 - 1  # np.random.seed's limit


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would exit 2 = InvalidManifest
        raise UsageError(f"{self.prog}: {message}")


def _json_object(example: str) -> Callable[[str], dict[str, object]]:
    def parse(text: str) -> dict[str, object]:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise argparse.ArgumentTypeError(f"must be a JSON object, e.g. '{example}'")
        return value

    return parse


_params_json = _json_object('{"max_depth": 3}')


def _bounded_int(low: int, high: int, rule: str) -> Callable[[str], int]:
    """An argparse type for integers in [low, high]; `rule` says the range in the error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(rule)
        return value

    return parse


_seed = _bounded_int(0, MAX_SEED, f"must be between 0 and {MAX_SEED}")
_port = _bounded_int(0, 65535, "must be between 0 (any free port) and 65535")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not (math.isfinite(value) and 0 < value < 1):
        raise argparse.ArgumentTypeError("must be strictly between 0 and 1")
    return value


def _path_segment(text: str) -> str:
    # Model names and versions appear as segments of the endpoints' URL paths.
    if not text or "/" in text:
        raise argparse.ArgumentTypeError(f"must be non-empty and contain no '/' (got {text!r})")
    return text


def _add_split_options(command: argparse.ArgumentParser, required: bool) -> None:
    # evaluate must reproduce a train run's holdout, so it takes no silent defaults.
    command.add_argument(
        "--seed",
        type=_seed,
        required=required,
        default=None if required else 0,
        help="seed for the holdout split and global RNGs" + ("" if required else " (default 0)"),
    )
    command.add_argument(
        "--holdout-fraction",
        type=_fraction,
        required=required,
        default=None if required else 0.2,
        help="share of rows held out" + ("" if required else " (default 0.2)"),
    )


def _add_artifact_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--model-dir",
        required=True,
        type=Path,
        help="directory with mloop.yaml and the model code of the commit that produced the artifact",
    )
    command.add_argument("--artifact", required=True, type=Path, help="model.joblib written by train")


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="python -m mloop_runtime", description="mloop's Python runtime")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)
    train = commands.add_parser("train", help="train a model and evaluate it on a holdout split")
    train.add_argument("--model-dir", required=True, type=Path, help="directory with mloop.yaml and the model code")
    train.add_argument("--dataset", required=True, type=Path, help="CSV or Parquet file")
    train.add_argument("--out", required=True, type=Path, help="output directory; must not exist (or be empty)")
    train.add_argument("--params", type=_params_json, default={}, help="JSON object merged over the manifest's params")
    _add_split_options(train, required=False)

    evaluate = commands.add_parser("evaluate", help="score an existing artifact on the holdout split train would use")
    _add_artifact_options(evaluate)
    evaluate.add_argument("--dataset", required=True, type=Path, help="CSV or Parquet file")
    _add_split_options(evaluate, required=True)

    serve = commands.add_parser(
        "serve", help="serve an artifact over HTTP with the Open Inference Protocol (KServe V2)"
    )
    _add_artifact_options(serve)
    serve.add_argument("--model-name", required=True, type=_path_segment, help="name in the endpoints' paths")
    serve.add_argument("--model-version", required=True, type=_path_segment, help="version the server reports")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="port to listen on (default 0: any free port)")
    serve.add_argument("--log-requests", action="store_true", help="log each request to stderr")
    serve.add_argument(
        "--pid-file",
        type=Path,
        default=None,
        help="for deployments: write the pid here and keep serving when the starting process exits",
    )

    drift = commands.add_parser("drift", help="compare current data with a version's reference profile")
    drift.add_argument("--profile", required=True, type=Path, help="reference-profile.json written by train")
    drift.add_argument("--current", required=True, type=Path, help="CSV, Parquet or JSON-lines file of records")
    drift.add_argument(
        "--out", required=True, type=Path, help="output directory for report.json and report.html; must not exist"
    )
    drift.add_argument(
        "--options",
        type=_json_object('{"drift_share": 0.3}'),
        default={},
        help="JSON object over the profile's monitoring settings (same keys as mloop.yaml's monitoring)",
    )
    drift.add_argument("--prediction-column", default="prediction", help="column of the model's predictions")
    drift.add_argument("--probability-column", default="probability", help="column of the positive class's probability")
    return parser


def parse_options(argv: Sequence[str]) -> TrainOptions | EvaluateOptions | ServeOptions | DriftOptions:
    args = build_parser().parse_args(argv)
    if args.command == "drift":
        return DriftOptions(
            profile=args.profile.resolve(),
            current=args.current.resolve(),
            out=args.out.resolve(),
            overrides=args.options,
            prediction_column=args.prediction_column,
            probability_column=args.probability_column,
        )
    if args.command == "serve":
        return ServeOptions(
            model_dir=args.model_dir.resolve(),
            artifact=args.artifact.resolve(),
            model_name=args.model_name,
            model_version=args.model_version,
            host=args.host,
            port=args.port,
            log_requests=args.log_requests,
            pid_file=args.pid_file.resolve() if args.pid_file else None,
        )
    if args.command == "evaluate":
        return EvaluateOptions(
            model_dir=args.model_dir.resolve(),
            artifact=args.artifact.resolve(),
            dataset=args.dataset.resolve(),
            seed=args.seed,
            holdout_fraction=args.holdout_fraction,
        )
    return TrainOptions(
        model_dir=args.model_dir.resolve(),
        dataset=args.dataset.resolve(),
        out=args.out.resolve(),
        params_override=args.params,
        seed=args.seed,
        holdout_fraction=args.holdout_fraction,
    )


def main(argv: Sequence[str] | None = None, protocol_stream: TextIO | None = None) -> int:
    """Runs one command, writing protocol events to `protocol_stream`; returns the exit code.

    Usable in-process (tests): restores sys.stdout/sys.stderr before returning.
    """
    writer = ProtocolWriter(protocol_stream if protocol_stream is not None else sys.stdout)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            options = parse_options(argv)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        if isinstance(options, ServeOptions):
            # stdout gets only the `ready` line: user output is not captured into log
            # events but goes to stderr (where __main__ has pointed file descriptor 1).
            run_serve(options, writer)
            return 0
        with user_output_captured(writer):
            if isinstance(options, EvaluateOptions):
                result = run_evaluate(options, writer)
            elif isinstance(options, DriftOptions):
                result = run_drift(options, writer)
            else:
                result = run_train(options, writer)
    except RuntimeFailure as failure:
        fields: dict[str, object] = {
            "kind": failure.kind,
            "message": failure.message,
            "traceback_tail": failure.traceback_tail,
        }
        if failure.problems:
            fields["problems"] = failure.problems
        fields.update(failure.details)
        writer.emit("error", **fields)
        return failure.exit_code
    except Exception as exc:  # a bug in the runtime itself
        writer.emit(
            "error",
            kind=INTERNAL_ERROR_KIND,
            message=f"mloop_runtime failed unexpectedly: {type(exc).__name__}: {exc}",
            traceback_tail=traceback_tail(exc),
        )
        return INTERNAL_ERROR_EXIT_CODE
    writer.emit("result", **result)
    return 0
