"""The `dreamplan` command: `dreamplan COMMAND [hydra.overrides ...]`.

Each command composes its Hydra config from configs/ (e.g. configs/record.yaml) with the overrides given on
the command line, then runs. Errors a user can fix are printed as one line, `dreamplan: error: ...`.
"""

from __future__ import annotations

import errno
import inspect
import re
import sys
from pathlib import Path
from typing import Callable, NamedTuple

from hydra.errors import InstantiationException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from dreamplan.hydra_text import literal
from dreamplan.paths import register_resolvers
from sim.errors import DreamplanError
from training.checkpoint import CheckpointError

USER_ERRORS = (DreamplanError, CheckpointError, ValueError)
# OSErrors a user causes (a full disk, a read-only or missing folder, a file where a folder should be, no permission):
# one line naming the path. Any other OSError is a bug and keeps its traceback.
USER_OS_ERRORS = {errno.ENOSPC: "no space left on device writing {}", errno.EDQUOT: "disk quota exceeded writing {}",
                  errno.EFBIG: "file too large for the file-size limit (ulimit -f) writing {}",
                  errno.EROFS: "read-only file system: cannot write {}", errno.EACCES: "permission denied: {}",
                  errno.EPERM: "operation not permitted: {}", errno.ENOTDIR: "not a directory: {}",
                  errno.EISDIR: "is a directory: {}", errno.EEXIST: "file exists: {}",
                  errno.ENOENT: "no such file or directory: {}", errno.ENAMETOOLONG: "file name too long: {}"}
# What an interrupted command leaves behind (the message must be true); `train ...` says what it saved, any other
# command saves nothing.
KEPT_ON_INTERRUPT = {"record": "complete shards are kept; re-run the same command to record the rest",
                     "eval": "finished episodes are kept; re-run the same command to run the rest"}

USAGE = """usage: dreamplan COMMAND [key=value ...]
       dreamplan run "group the blocks by color" [key=value ...]

commands:
{commands}

Any config value can be overridden (Hydra syntax), e.g.
  dreamplan record out=data/demo episodes=20 tasks=[push_to_corner] env.image_size=96
  dreamplan record --cfg    print the composed config and exit
  dreamplan eval suite=metaworld                        Meta-World v3, AVDC's protocol (needs the metaworld extra)
  dreamplan eval -m videomodel=oracle,dit_pretrained seed=0,20   a sweep: one eval per combination, one table
  dreamplan eval launcher=ray                           episodes as Ray tasks (ray.address= or RAY_ADDRESS; ray extra)
"""

MULTIRUN_FLAGS = ("-m", "--multirun")


def _record(cfg: DictConfig) -> None:
    import functools

    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    if cfg.env._target_ == "sim.metaworld.env.MetaWorldEnv":
        return _record_metaworld(cfg)
    from sim.record import ALL_TASKS, RecordJob, record

    tasks = list(ALL_TASKS) if cfg.tasks == "all" else [cfg.tasks] if isinstance(cfg.tasks, str) else list(cfg.tasks)
    env_cfg = OmegaConf.to_container(cfg.env, resolve=True)
    env_cfg["split"] = cfg.split
    job = RecordJob(out=cfg.out, tasks=tasks, split=cfg.split, episodes=cfg.episodes,
                    episodes_per_shard=cfg.episodes_per_shard, seed=cfg.seed, workers=cfg.workers,
                    env_factory=functools.partial(instantiate, env_cfg), env_config=env_cfg)
    summary = record(job)
    print(f"recorded {summary['episodes']} episodes in {summary['shards_total']} shards under {summary['out']} "
          f"({summary['shards_written']} shards written now)")


def _record_metaworld(cfg: DictConfig) -> None:
    """dreamplan record env=metaworld: scripted Meta-World demos (configs/dataset/metaworld.yaml)."""
    import functools

    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from sim.metaworld import AVDC_TASKS, require_metaworld

    require_metaworld()  # the one-line install hint, before anything is built
    from sim.metaworld.record import MetaWorldRecordJob, record_metaworld

    tasks = list(AVDC_TASKS) if cfg.tasks in ("all", "metaworld") else [cfg.tasks] if isinstance(cfg.tasks, str) else list(cfg.tasks)
    env_cfg = OmegaConf.to_container(cfg.env, resolve=True)
    job = MetaWorldRecordJob(out=cfg.out, tasks=tasks, cameras=list(cfg.cameras), episodes=cfg.episodes, seed=cfg.seed,
                             max_attempts=cfg.max_attempts, env_factory=functools.partial(instantiate, env_cfg),
                             env_config=env_cfg)
    summary = record_metaworld(job)
    n = len(summary["tasks"]) * len(summary["cameras"]) * summary["episodes_per_camera"]
    print(f"recorded {n} Meta-World episodes in {summary['shards_total']} shards under {summary['out']} "
          f"({summary['shards_written']} shards written now; {len(summary['failed_seeds_skipped_now'])} failed demos skipped)")


def _without_group(overrides: list[str], group: str) -> list[str]:
    """The overrides minus those of config group `group` (its choice and its keys): they were meant for the
    component the oracle replaces, and the oracle's config may not have those keys."""
    def key(o: str) -> str:
        return o.split("=", 1)[0].lstrip("+~")
    return [o for o in overrides if key(o) != group and not key(o).startswith(f"{group}.")]


def _check_integers(cfg: DictConfig, **least: int) -> None:
    """One line for a seed or count that is not an integer of at least its minimum (`seed=abc` reaches us as text)."""
    for key, minimum in least.items():
        value = cfg[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise UserError(f"{key} must be an integer >= {minimum}, got {value!r}")


def _require_env_extra(cfg: DictConfig) -> None:
    if str(cfg.env._target_).startswith("sim.metaworld."):
        from sim.metaworld import require_metaworld

        require_metaworld()  # the one-line install hint, not a worker's traceback


def _eval(cfg: DictConfig, overrides: list[str] = ()) -> None:
    import time

    from omegaconf import OmegaConf

    from dreamplan.evaluate import EvalJob, evaluate, launcher, select_tasks

    _check_integers(cfg, seed=0, episodes=1, workers=1)
    _require_env_extra(cfg)
    launch = launcher(cfg.launcher, cfg.ray.address)  # an unknown launcher or a missing ray extra: one line, now
    agent_name = cfg.agent._target_.rsplit(".", 1)[-1]
    out = cfg.out or f"runs/eval/{cfg.suite.name}-{agent_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    container = OmegaConf.to_container(cfg, resolve=True)
    swaps = {}
    if cfg.attribute and "planner" in cfg.agent:
        for component, oracle in cfg.oracles.items():
            swapped = compose("eval", [*_without_group(overrides, component), f"{component}={oracle}"])
            if OmegaConf.to_container(swapped[component]) != OmegaConf.to_container(cfg[component]):
                swaps[component] = OmegaConf.to_container(swapped.agent, resolve=True)
    job = EvalJob(env=container["env"], agent=container["agent"], tasks=select_tasks(container["suite"], cfg.tasks),
                  splits=list(cfg.splits), episodes=cfg.episodes, seed=cfg.seed, out=out, videos=cfg.videos,
                  frame_stride=cfg.frame_stride, swaps=swaps, seed_base=cfg.seed_base,
                  known_splits=tuple(container["suite"]["splits"]), per_task=cfg.per_task,
                  episode_timeout=cfg.episode_timeout)
    evaluate(job, workers=cfg.workers, config=container, launch=launch)
    print((Path(out) / "results.md").read_text())
    print(f"wrote {out}/eval_info.json, results.md" + (", videos/" if cfg.videos else ""))


def _fidelity(cfg: DictConfig) -> None:
    import time

    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from dreamplan.evaluate import select_tasks
    from dreamplan.protocols import close_all

    if str(cfg.env._target_).startswith("sim.metaworld."):
        return _fidelity_metaworld(cfg)
    from dreamplan.fidelity import fidelity_table, run_fidelity

    out = cfg.out or f"runs/fidelity/{cfg.videomodel._target_.rsplit('.', 1)[-1]}-{time.strftime('%Y%m%d-%H%M%S')}"
    env, video_model, invdyn = instantiate(cfg.env), instantiate(cfg.videomodel), instantiate(cfg.invdyn)
    try:
        summary = run_fidelity(env, video_model, invdyn, select_tasks(OmegaConf.to_container(cfg.suite), cfg.tasks),
                               cfg.episodes, cfg.seed, out,
                               config=OmegaConf.to_container(cfg, resolve=True))
    finally:
        close_all(video_model, invdyn, env)
    print(fidelity_table(summary))
    print(f"wrote {out}/fidelity.json, fidelity.md")


def _fidelity_metaworld(cfg: DictConfig) -> None:
    """dreamplan fidelity env=metaworld suite=metaworld: imagined vs true future, beside the still baseline."""
    import time

    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from dreamplan.evaluate import select_tasks
    from dreamplan.protocols import close_all
    from sim.metaworld import CAMERAS, require_metaworld

    _check_integers(cfg, seed=0, episodes=1, mid_steps=0)
    require_metaworld()
    if cfg.suite.family != "metaworld":
        raise UserError(f"env=metaworld takes suite=metaworld (got suite {cfg.suite.name!r})")
    cameras = list(cfg.get("splits") or cfg.suite.splits)
    unknown = [c for c in cameras if c not in CAMERAS]
    if unknown:
        raise UserError(f"unknown camera {unknown[0]!r} in splits (known: {', '.join(CAMERAS)})")
    from dreamplan.fidelity_metaworld import fidelity_table, run_fidelity

    name = Path(str(cfg.videomodel.get("path") or cfg.videomodel._target_)).name
    out = cfg.out or f"runs/fidelity/metaworld-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    config = OmegaConf.to_container(cfg, resolve=True)
    for unused in ("invdyn", "agent", "planner"):  # the true future stands in for executing actions
        config.pop(unused, None)
    env, video_model = instantiate(cfg.env), instantiate(cfg.videomodel)
    try:
        summary = run_fidelity(env, video_model, select_tasks(OmegaConf.to_container(cfg.suite), cfg.tasks), cameras,
                               cfg.episodes, cfg.suite.seed_base + cfg.seed, cfg.mid_steps, out, config=config)
    finally:
        close_all(video_model, env)
    print(fidelity_table(summary))
    print(f"wrote {out}/fidelity.json, fidelity.md")


def _run(cfg: DictConfig) -> None:
    from hydra.utils import instantiate

    from dreamplan.protocols import close_all
    from dreamplan.run import run_instruction

    _check_integers(cfg, seed=0)
    _require_env_extra(cfg)
    env, agent = instantiate(cfg.env), instantiate(cfg.agent)
    try:
        result = run_instruction(env, agent, cfg.instruction, cfg.seed, cfg.out, cfg.videomodel.frame_stride,
                                 task=cfg.task, scene=cfg.scene)
    finally:
        close_all(agent, env)
    if not result["success"]:
        raise SystemExit(1)


def _scene(cfg: DictConfig) -> None:
    from hydra.utils import instantiate

    from dreamplan.episode import start
    from dreamplan.scenes import save_scene

    _check_integers(cfg, seed=0)
    env = instantiate(cfg.env)
    if not hasattr(env.unwrapped, "scene"):
        raise ValueError(f"{cfg.env._target_} has no saveable scenes (the tabletop has)")
    try:
        _, info = start(env, cfg.seed, {"task": cfg.task, "split": cfg.split})
        path = save_scene(cfg.out, env)
    finally:
        env.close()
    print(f"{', '.join(b.name for b in env.unwrapped.blocks)}; {cfg.task}: {info['instruction']!r}")
    print(f"wrote {path} (play a sentence in it: dreamplan run \"...\" scene={path})")


def _report(cfg: DictConfig) -> None:
    from dreamplan.report import write_report

    print(f"wrote {write_report(cfg.run_dir, cfg.out, cfg.max_videos)}")


class Command(NamedTuple):
    config: str  # config name under configs/
    target: str  # "module:function" taking the composed DictConfig; imported only when the command runs
    help: str
    positional: str | None = None  # config key a bare argument sets: `dreamplan report runs/x` = report run_dir=runs/x


COMMANDS: dict[str, tuple] = {
    "run": ("run", "dreamplan.cli:_run", "carry out one instruction with the whole stack; a video of imagined vs real",
            "instruction"),
    "scene": ("scene", "dreamplan.cli:_scene", "save a task's seeded scene as JSON, to play any sentence in (run scene=)"),
    "record": ("record", "dreamplan.cli:_record", "record scripted-expert episodes to HDF5 shards"),
    "train invdyn": ("train/invdyn", "invdyn.train:main", "train the inverse-dynamics model (resumes from run_dir)"),
    "train goal_invdyn": ("train/goal_invdyn", "dreamplan.train_goal_invdyn:main",
                          "train the closed-loop goal-reaching inverse dynamics (resumes from run_dir)"),
    "train autoencoder": ("train/autoencoder", "videomodel.train:train_autoencoder", "train the video model's frame autoencoder"),
    "train videomodel": ("train/videomodel", "videomodel.train:train_videomodel", "train the video DiT on compressor latents"),
    "train distill": ("train/distill", "videomodel.distill:train_distill",
                      "distil a world model into a one-evaluation student (resumes from run_dir)"),
    "train bc": ("train/bc", "dreamplan.train_bc:main", "train the behaviour-cloning baseline (resumes from run_dir)"),
    "train planner": ("train/planner", "planner.train_planner:main", "train the tiny VLM subgoal planner (resumes from run_dir)"),
    "eval": ("eval", "dreamplan.cli:_eval", "run the agent on fixed evaluation seeds; table, JSON, videos"),
    "fidelity": ("fidelity", "dreamplan.cli:_fidelity", "imagined vs physically executed clips: PSNR, SSIM, physics "
                 "(Meta-World: vs the true future, beside the still baseline)"),
    "report": ("report", "dreamplan.cli:_report", "self-contained HTML page of one or many eval runs", "run_dir"),
}


def _load(spec: str) -> Callable[[DictConfig], None]:
    import importlib

    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


class UserError(DreamplanError):
    """A problem with the user's input, reported as one line. A DreamplanError, so that it is caught as one also
    under `python -m dreamplan.cli`, where this module runs twice (as __main__, and imported by _load)."""


def _override(arg: str, positional: str | None) -> str:
    """A Hydra override; a bare argument (no `=` in its first word) sets the command's positional key to exactly that
    text."""
    if "=" in arg.split(" ")[0] or arg.startswith(("+", "~")):
        return arg
    if positional is None:
        raise UserError(f"unexpected argument {arg!r}: give overrides as key=value")
    return f"{positional}={literal(arg)}"


def _choices(message: str) -> str:
    """' (options: a, b)' for Hydra's "Could not find 'group/option'", whose own list is on later lines."""
    from importlib.resources import files

    found = re.search(r"Could not find '([\w/-]+)/[^/']*'", message)
    if not found or not files("configs").joinpath(found.group(1)).is_dir():
        return ""
    options = sorted(f.name[:-5] for f in files("configs").joinpath(found.group(1)).iterdir() if f.name.endswith(".yaml"))
    return f" (options: {', '.join(options)})"


def compose(config_name: str, overrides: list[str]) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    register_resolvers()
    try:
        with initialize_config_module("configs", version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as e:
        raise UserError(f"bad config or override: {str(e).splitlines()[0]}{_choices(str(e))}") from None


def _root_cause(e: BaseException) -> BaseException:
    while isinstance(e, InstantiationException) and e.__cause__ is not None:
        e = e.__cause__
    return e


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _user_message(e: BaseException) -> str | None:
    """The one line for an error the user can fix, or None for a bug (which keeps its traceback)."""
    if isinstance(e, OSError) and e.errno is not None:
        template = USER_OS_ERRORS.get(e.errno)
        if template is None:
            return None
        return template.format(e.filename) if e.filename is not None else _one_line(e)
    if isinstance(e, (UserError, *USER_ERRORS, FileNotFoundError, NotADirectoryError, PermissionError)):
        return _one_line(e)  # our own message (an OSError raised with text and no errno among them)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help", "help"}:
        listing = "\n".join(f"  {name:22s}{c.help}   (configs/{c.config}.yaml)"
                            for name, c in ((n, Command(*t)) for n, t in COMMANDS.items()))
        print(USAGE.format(commands=listing))
        return 0
    # two-word commands ("train invdyn") take their second word from argv too
    two = " ".join(argv[:2])
    command, args = (two, argv[2:]) if two in COMMANDS else (argv[0], argv[1:])
    if command not in COMMANDS:
        print(f"dreamplan: error: unknown command {command!r} (known: {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    spec = Command(*COMMANDS[command])
    show = "--cfg" in args
    multirun = any(a in MULTIRUN_FLAGS for a in args)
    try:
        overrides = [_override(a, spec.positional) for a in args if a != "--cfg" and a not in MULTIRUN_FLAGS]
        run = _load(spec.target)
        if multirun:
            if command != "eval" or show:
                raise UserError("-m/--multirun sweeps `dreamplan eval` only (and cannot print with --cfg)")
            from dreamplan.sweep import run_sweep

            run_sweep(spec.config, overrides, compose, run)
            return 0
        config_name = spec.config
        cfg = compose(config_name, overrides)
        if show:
            from omegaconf import OmegaConf

            print(OmegaConf.to_yaml(cfg))
            return 0
        if "overrides" in inspect.signature(run).parameters:  # commands that re-compose variants of their config
            run(cfg, overrides=overrides)
        else:
            run(cfg)
    except (UserError, *USER_ERRORS, OSError, InstantiationException) as e:  # Hydra wraps what a constructor raised
        message = _user_message(_root_cause(e))
        if message is None:
            raise
        print(f"dreamplan: error: {message}", file=sys.stderr)
        return 2
    except OmegaConfBaseException as e:  # e.g. a mandatory value (???) left unset
        print(f"dreamplan: error: bad config: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        kept = KEPT_ON_INTERRUPT.get(command, "nothing was saved")
        if command.startswith("train "):  # the trainer says where it stopped and what it saved
            kept = f"{str(e) or 'checkpoints saved so far are kept'}; re-run the same command to resume"
        print(f"dreamplan: interrupted ({kept})", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
