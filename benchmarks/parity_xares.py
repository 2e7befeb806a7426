"""The X-ARES side of ``benchmarks/parity.py``: run in a virtual environment holding ``xares==0.1.3``.

    venv/bin/python benchmarks/parity_xares.py JOB.json OUT.json

``JOB.json`` (written by ``parity.py``) lists tasks whose embeddings were exported as X-ARES's
encoded shards (``<key>.npy`` of ``[frames, dim]`` float32 and ``<key>.json`` holding the target).
For each task this trains and scores X-ARES's own probe (``xares.models.simple.Mlp`` under
``xares.trainer.Trainer``, its data loading from ``xares.audiowebdataset``, its metrics) ``runs``
times, and its kNN once; for the tasks that ask, the test predictions of the first run are saved,
so ``parity.py`` can score the same predictions with pytest-xares's metrics. Nothing of
pytest-xares is imported here.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from xares.audiowebdataset import create_embedding_webdataset
from xares.models.simple import Mlp
from xares.trainer import KNNTrainer, Trainer

# X-ARES's TaskConfig default; the job may name others per task.
TAR_SHUFFLE = 2000


def label_processor(kind: str, classes: int):
    """The target as X-ARES's task definitions hand it to the trainer."""
    if kind == "multilabel":

        def many_hot(sample: dict[str, Any]) -> list[float]:  # a list, as X-ARES's FSD50K task gives
            target = [0.0] * classes
            for index in sample["target"]:
                target[index] = 1.0
            return target

        return many_hot
    if kind == "frame":
        return lambda sample: torch.tensor(sample["target"], dtype=torch.float32)  # [classes, frames]
    return lambda sample: sample["target"]


def loader(urls: list[str], task: dict[str, Any], training: bool):
    return create_embedding_webdataset(
        urls,
        tar_shuffle=TAR_SHUFFLE if training else None,
        batch_size=task["batch_size"],
        num_workers=0,
        training=training,
        label_processor=label_processor(task["kind"], task["classes"]),
    )


def folds(task: dict[str, Any]) -> list[tuple[list[str], list[str], list[str]]]:
    """(train, valid, test) shard lists, as X-ARES builds them for one split or for k folds."""
    splits = task["splits"]
    if "folds" in splits:
        names = splits["folds"]
        return [([splits[n] for n in names if n != k], [splits[k]], [splits[k]]) for k in names]
    return [([splits["train"]], [splits["valid"]], [splits["test"]])]


def train_once(task: dict[str, Any], run: int, workdir: Path, keep: Path | None) -> float:
    """One X-ARES probe run: the mean score over the folds."""
    scores = []
    for fold, (train, valid, test) in enumerate(folds(task)):
        torch.manual_seed(42)  # XaresTask seeds torch and numpy on construction, then builds the probe
        np.random.seed(42)
        criterion = "CrossEntropyLoss" if task["kind"] == "classes" else "BCEWithLogitsLoss"
        model = Mlp(in_features=task["dim"], out_features=task["classes"], criterion=criterion)
        name = f"{task['name']}_{run}_{fold}.pt"
        trainer = Trainer(
            model,
            device=torch.device("cpu"),
            ckpt_dir=str(workdir),
            ckpt_name=name,
            metric=task["metric"],
            metric_args=task.get("metric_args", {}),
            lr=task["learning_rate"],
            max_epochs=task["epochs"],
            task_type="frame" if task["kind"] == "frame" else "clip",
        )
        trainer.run(loader(train, task, True), loader(valid, task, False))
        trainer.load_state_dict(torch.load(workdir / name))
        scores.append(float(trainer.run_inference(loader(test, task, False))))
        if keep is not None and fold == 0:
            save_predictions(trainer.model, loader(test, task, False), task["kind"], keep)
    return float(np.mean(scores))


@torch.inference_mode()
def save_predictions(model: torch.nn.Module, batches, kind: str, path: Path) -> None:
    """The test logits and targets, per clip (frame tasks: trimmed to the clip's frames)."""
    model.eval()
    logits, targets, lengths = [], [], []
    for (x, x_length), y, _ in batches:
        if kind == "frame":
            out = model(x.transpose(-2, -1).contiguous())[0]  # [batch, frames, classes]
            y_values, _ = y
            for i, n in enumerate(x_length.tolist()):
                logits.append(out[i, :n].numpy())
                targets.append(y_values[i, :, :n].transpose(0, 1).numpy())
                lengths.append(n)
        else:
            pooled = (x.sum(-1) / x_length.unsqueeze(-1)).float()
            logits.append(model(pooled)[0].numpy())
            targets.append(np.asarray(y))
    if kind == "frame":
        np.savez(path, logits=np.concatenate(logits), targets=np.concatenate(targets), lengths=np.array(lengths))
    else:
        np.savez(path, logits=np.concatenate(logits), targets=np.concatenate(targets))


def knn_once(task: dict[str, Any]) -> float:
    scores = []
    for train, _, test in folds(task):
        trainer = KNNTrainer(num_classes=task["classes"])
        scores.append(float(trainer.train_and_eval(loader(train, task, True), loader(test, task, False))))
    return float(np.mean(scores))


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    out: dict[str, Any] = {"torch": torch.__version__, "tasks": {}}
    with tempfile.TemporaryDirectory(prefix="xares-parity-ckpt-") as scratch:
        for task in job["tasks"]:
            keep = Path(task["predictions"]) if task.get("predictions") else None
            runs = [train_once(task, run, Path(scratch), keep if run == 0 else None) for run in range(job["runs"])]
            entry: dict[str, Any] = {"mlp": runs}
            if task["kind"] == "classes":
                entry["knn"] = knn_once(task)
            out["tasks"][task["name"]] = entry
            print(f"{task['name']}: X-ARES MLP {runs}", file=sys.stderr, flush=True)
    Path(sys.argv[2]).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
