"""Tasks: the contract's checks, built-in tasks that λ reaches, run keys that see the task's code."""

import dataclasses
import functools
import importlib
import math
import os
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from decaylab import Task
from decaylab.lab.errors import UsageError
from decaylab.lab.runs import RunConfig
from decaylab.lab.study import prepare_task
from decaylab.lab.task import schedules
from decaylab.lab.task.builtin import datasets, models
from decaylab.lab.task.builtin.catalogue import BUILT_IN
from decaylab.lab.task.identity import code_identity
from decaylab.lab.task.objectives import Metric, accuracy
from decaylab.lab.training.loop import train_unit
from decaylab.lab.training.stacking import StackedModel, batchnorm_fed_weights
from decaylab.lab.training.trial import check_one_batch
from decaylab.optim import param_groups

from .tiny_task import make_task

DATA = torch.Generator().manual_seed(0)
X, Y = torch.randn(20, 3, generator=DATA), torch.randint(0, 2, (20,), generator=DATA)
"""Fixed data: drawn from torch's global generator, they changed with the order tests were imported in (two
processes), and a run on one draw ended unstable."""


def linear() -> nn.Module:
    return nn.Linear(3, 2)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"train": (X, Y[:10])}, "20 inputs but 10 targets"),
        ({"train": (X[:0], Y[:0])}, "training set is empty|train set is empty"),
        ({"test": (X[:0], Y[:0])}, "test set is empty"),
        ({"train": (X.masked_fill(X > 1, math.nan), Y)}, "NaN"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"schedule": "step"}, "schedule"),
        ({"warmup": 1.5}, "warmup"),
        ({"metric": "f1"}, "metric"),
        ({"betas": (1.5, 0.999)}, "betas"),
        ({"eps": -1.0}, "eps"),
        ({"momentum": -0.1}, "momentum"),
        ({"epochs": True}, "epochs"),
        ({"train": (X,)}, "train is a tuple; give"),
        ({"train": "data.csv"}, "train is a str; give"),
        ({"train": (X, "labels")}, "no array of numbers"),
    ],
)
def test_a_task_with_bad_data_or_settings_is_refused_with_what_to_fix(options, words):
    with pytest.raises(UsageError, match=words):
        Task(**{"name": "bad", "train": (X, Y), "test": (X, Y), "make_model": linear, **options})


class Pairs(torch.utils.data.Dataset):
    """A map-style dataset of ``(input, target)`` pairs, as a user's own data class is."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.inputs, self.targets = inputs, targets

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.targets[index]


@pytest.mark.parametrize(
    "wrap",
    [
        torch.utils.data.TensorDataset,
        Pairs,
        lambda x, y: (x.numpy(), y.numpy()),
        lambda x, y: [x, y],
    ],
    ids=["TensorDataset", "map-style Dataset", "numpy", "list"],
)
def test_data_held_as_a_dataset_numpy_or_a_list_trains_the_same_numbers_as_tensors(wrap, tmp_path):
    import decaylab

    tensors = make_task()
    wrapped = replace(tensors, **{split: wrap(*getattr(tensors, split)) for split in ("train", "validation", "test")})
    grid = {"methods": ["adamw"], "lrs": [1e-2], "wds": [0.0, 1e-2], "epochs": 2, "progress": False}
    columns = ["weight_decay", "train_loss", "val_metric", "test_loss", "test_metric"]

    def numbers(task, out):
        rows = decaylab.study(task, out=tmp_path / out, **grid)
        return [[row[c] for c in columns] for row in (rows.to_dict("records") if hasattr(rows, "to_dict") else rows)]

    assert numbers(wrapped, "wrapped") == numbers(tensors, "tensors")


def compile_tiny_model() -> nn.Module:
    return torch.compile(make_task().make_model())


def test_a_compiled_model_trains_as_the_module_it_wraps_says_so_and_no_decay_sees_through_it(capsys, tmp_path):
    import decaylab

    model = compile_tiny_model()
    groups = param_groups(model, 0.1, no_decay=("0.",))  # "0.weight", named "_orig_mod.0.weight" by the wrapper
    spared = {id(p) for group in groups if group["weight_decay"] == 0.0 for p in group["params"]}
    assert id(model._orig_mod[0].weight) in spared and id(model._orig_mod[4].weight) not in spared

    eager = replace(make_task(), no_decay=("0.",))
    grid = {"methods": ["adamw"], "lrs": [1e-2], "wds": [0.0, 0.1], "epochs": 2, "progress": False}
    columns = ["weight_decay", "train_loss", "val_metric", "test_loss", "test_metric"]

    def numbers(task, out):
        rows = decaylab.study(task, out=tmp_path / out, **grid)
        return [[row[c] for c in columns] for row in (rows.to_dict("records") if hasattr(rows, "to_dict") else rows)]

    assert numbers(replace(eager, make_model=compile_tiny_model), "compiled") == numbers(eager, "eager")
    said = [line for line in capsys.readouterr().err.splitlines() if "torch.compile" in line]
    assert len(said) == 1 and "eagerly" in said[0]


@pytest.mark.parametrize(
    ("make_model", "target", "words"),
    [
        (lambda: nn.Linear(4, 2), Y, "one training batch failed.*mat1 and mat2"),  # input width 3, not 4
        (lambda: nn.Linear(3, 2), Y + 5, "one training batch failed.*out of bounds"),  # labels 5, 6 for 2 classes
        (lambda: nn.Linear(3, 2), Y.float(), "cross-entropy over class labels, but the targets are torch.float32"),
        (lambda: nn.Linear(3, 2), Y.to(torch.uint8), "targets are torch.uint8; give int64 labels"),
        (lambda: TwoOutputs(), Y, "returns a tuple, and the default loss and metric need a tensor of logits"),
        (
            lambda: nn.Sequential(nn.Linear(3, 4), nn.Unflatten(1, (2, 2))),
            Y,
            "the default cross-entropy wants classes on the output's last dimension",
        ),  # (B, C, L) logits, (B,) labels
        (lambda: nn.ReLU(), Y, "no trainable parameters"),
        (lambda: 1 / 0, Y, "make_model\\(\\) raised ZeroDivisionError"),
        (lambda: "a model", Y, "must return an nn.Module"),
    ],
)
def test_a_model_that_does_not_fit_its_data_fails_in_one_batch_before_training(make_model, target, words):
    with pytest.raises(UsageError, match=words):
        check_one_batch(Task("bad", (X, target), (X, target), make_model, batch_size=10))


class TwoOutputs(nn.Module):
    """Logits and an auxiliary output, as many research models return."""

    def __init__(self, convolution: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Unflatten(1, (1, 3)), nn.Conv1d(1, 2, 3)) if convolution else nn.Identity()
        self.head = nn.Linear(2 if convolution else 3, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(self.features(x).flatten(1))
        return logits, logits.square().mean(-1)


def logits_loss(output: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(output[0], target) + 0.1 * output[1].mean()


@pytest.mark.parametrize("convolution", [False, True], ids=["vmap", "loop over members"])
def test_a_model_that_returns_a_tuple_trains_with_a_loss_that_takes_it(convolution):
    task = Task("tuple", (X, Y), (X, Y), lambda: TwoOutputs(convolution), loss=logits_loss, metric="loss",
                epochs=2, batch_size=10)  # fmt: skip
    check_one_batch(task)
    stacked = StackedModel(task.make_model(), members=3)
    stacked.choose_batching(X, Y, logits_loss)
    assert stacked.batched is not convolution  # convolutions loop over members on the CPU
    logits, extra = stacked(X)
    assert logits.shape == (3, len(X), 2) and extra.shape == (3, len(X))
    runs = [RunConfig("tuple", "adamw", lr, 0.1, seed=0, epochs=2, batch_size=10) for lr in (1e-3, 1e-2)]
    results = train_unit(task, runs)
    assert [result.status for result in results] == ["done", "done"]
    assert results[0].final != results[1].final


def test_a_metric_must_give_one_number_per_batch():
    task = Task("m", (X, Y), (X, Y), linear, metric=lambda output, target: (output.argmax(-1) == target).double())
    with pytest.raises(UsageError, match=r"metric \(.*\) must return one number per batch, got shape \(10,\)"):
        check_one_batch(replace(task, batch_size=10))


def test_a_metric_that_vmap_cannot_batch_loops_over_members():
    """A Python float (numpy, scikit-learn, .item()) is one number too."""
    task = Task("m", (X, Y), (X, Y), linear, metric=lambda output, target: float((output.argmax(-1) == target).sum()))
    check_one_batch(replace(task, batch_size=10))
    stacked = StackedModel(task.make_model(), members=3)
    stacked.choose_batching(X, Y, task.objective)
    assert stacked.batched
    counts = stacked.per_member(task.selection_metric.function, stacked(X), Y)
    assert counts.shape == (3,) and float(counts[0]) == float((stacked(X)[0].argmax(-1) == Y).sum())


def test_a_model_instead_of_a_function_that_makes_one_is_refused():
    with pytest.raises(UsageError, match="make_model must be a function that returns a new model, not a model"):
        Task("m", (X, Y), (X, Y), nn.Linear(3, 2))  # type: ignore[arg-type]


@pytest.mark.parametrize("target_shape", [(len(X),), (len(X), 3)])
def test_a_regression_whose_output_broadcasts_against_its_target_is_refused(target_shape):
    """A (B, 1) output against (B,) targets runs, broadcast to (B, B), and trains on nonsense:
    torch only warns. The check turns that warning into the one-line error."""
    target = torch.randn(target_shape, generator=torch.Generator().manual_seed(0))
    task = Task("bad", (X, target), (X, target), lambda: nn.Linear(3, 1), loss=nn.functional.mse_loss, batch_size=10)
    with pytest.raises(UsageError, match=r"one training batch failed.*output \(10, 1\).*different to the input size"):
        check_one_batch(task)


@pytest.mark.parametrize("column_output", [True, False], ids=["(B, 1) output", "(B, 1) target"])
def test_a_hand_written_loss_that_broadcasts_is_refused_and_one_that_squeezes_is_not(column_output):
    """torch does not warn for a hand-written loss: ((o − y)²).mean() over (B, 1) and (B,) is a (B, B) mean."""
    target = torch.randn(len(X), generator=torch.Generator().manual_seed(0))
    if column_output:
        model = lambda: nn.Linear(3, 1)  # noqa: E731
    else:
        model, target = (lambda: nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))), target[:, None]
    task = Task("r", (X, target), (X, target), model, loss=lambda o, y: ((o - y) ** 2).mean(), batch_size=10)
    with pytest.raises(UsageError, match=r"the loss broadcasts the output .* to every pair of examples"):
        check_one_batch(task)
    squeezing = replace(task, loss=lambda o, y: ((o.reshape(y.shape) - y) ** 2).mean())
    check_one_batch(squeezing)
    noisy = replace(task, loss=lambda o, y: ((o.reshape(y.shape) - y + 0.1 * torch.randn(y.shape)) ** 2).mean())
    check_one_batch(noisy)  # a loss that draws random numbers is not mistaken for one that broadcasts
    numpy_noisy = replace(task, loss=lambda o, y: ((o.reshape(y.shape) - y + float(np.random.randn())) ** 2).mean())
    check_one_batch(numpy_noisy)  # nor one whose numbers come from elsewhere (numpy, a step count): it cannot be told
    constant = replace(task, train=(X, torch.ones_like(target)), test=(X, torch.ones_like(target)))
    with pytest.raises(UsageError, match="broadcasts"):  # constant targets (a batch sorted by label) hide nothing
        check_one_batch(constant)


def test_every_built_in_model_has_parameters_that_weight_decay_reaches():
    for name in BUILT_IN:
        if name.startswith("cifar10"):
            model = models.ResNet20(batchnorm=not name.endswith("nobn"))
        elif name == "ridge":
            model = nn.Linear(1000, 1, bias=False)
        elif name == "charlm":
            model = models.CharTransformer(len(datasets.CHARACTERS), 64)
        else:
            model = (models.mnist1d_cnn if "cnn" in name else models.mnist1d_mlp)(name.endswith("-bn"))
        decayed = [g for g in param_groups(model, 0.1) if g["weight_decay"]]
        assert decayed and decayed[0]["params"], name


def test_decay_decisions_are_taken_on_the_members_shapes_not_the_stacked_ones():
    class VectorModel(nn.Module):  # a linear model whose weight is a 1-D vector
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(3))

        def forward(self, x):
            return x @ self.weight

    stacked = StackedModel(VectorModel(), members=4)  # the stacked weight is (4, 3): a "matrix"
    assert [g["weight_decay"] for g in stacked.param_groups(0.1)] == [0.0]  # param_groups' rule: 1-D is exempt
    assert [g["weight_decay"] for g in stacked.param_groups(0.1, decay_all=True)] == [0.1]
    mlp = StackedModel(models.mnist1d_mlp(batchnorm=True), members=4)
    decayed, kept = mlp.param_groups(0.1)
    assert all(p.ndim == 3 for p in decayed["params"]) and all(p.ndim == 2 for p in kept["params"])


def test_the_weights_batchnorm_normalizes_are_found_in_ordinary_modules():
    assert batchnorm_fed_weights(models.mnist1d_mlp(True)) == ["0.weight", "3.weight"]
    assert batchnorm_fed_weights(models.mnist1d_mlp(False)) == []
    assert batchnorm_fed_weights(models.mnist1d_cnn(True)) == ["1.weight", "4.weight", "7.weight"]
    resnet = batchnorm_fed_weights(models.ResNet20(True))
    assert len(resnet) == 19 and all((name.endswith("weight") and "conv" in name) or name == "stem.weight"
                                     for name in resnet)  # fmt: skip


def values_of(schedule, total):
    eta = schedules.multipliers(schedule, total)
    return [eta(step) for step in range(total)]


def test_schedules_are_the_post_multiplier_from_one_to_zero_after_warmup():
    total = 100
    for name, schedule in schedules.SCHEDULES.items():
        values = values_of(schedules.with_warmup(schedule, 0.1), total)
        assert values[:10] == pytest.approx([(k + 1) / 10 for k in range(10)]), name
        assert values[10] == 1.0 and all(0 <= v <= 1 for v in values), name
    cosine = [1, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2]
    assert values_of(schedules.cosine, 4) == pytest.approx(cosine)
    assert values_of(schedules.wsd, 10) == [1, 1, 1, 1, 1, 1, 1, 1, 1, 0.5]
    assert schedules.multipliers(schedules.wsd, 10)(25) == 0.5  # past the end: the last step's
    with pytest.raises(UsageError, match="η = 2"):
        schedules.multipliers(lambda step, total: 2.0, 5)(0)


def test_a_schedule_is_checked_before_training_at_every_step_or_evenly_past_a_bound():
    with pytest.raises(UsageError, match=r"η = 2\.0 at step 3"):
        schedules.check_schedule(lambda step, total: 2.0 if step == 3 else 0.5, 5)
    asked = []
    schedules.check_schedule(lambda step, total: asked.append(step) or 1.0, 10**12 // 100)
    assert len(asked) == schedules.CHECKED_STEPS and asked[0] == 0 and asked[-1] == 10**10 - 1


def test_a_run_of_a_mistyped_length_is_refused_before_anything_is_allocated():
    with pytest.raises(UsageError, match="give fewer epochs"):
        schedules.multipliers(schedules.cosine, 10**23)


def test_the_run_keys_cover_the_task_file_and_the_modules_it_imports_and_no_other(tmp_path, monkeypatch):
    (tmp_path / "helper.py").write_text("WIDTH = 8\n")
    (tmp_path / "sizes.py").write_text("DEPTH = 2\n")
    (tmp_path / "unrelated.py").write_text("LOADED = True\n")
    (tmp_path / "mine.py").write_text(
        "import torch\nfrom torch import nn\nfrom decaylab import Task\nimport helper\n\n"
        "def make_task():\n"
        "    from sizes import DEPTH\n"
        "    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))\n"
        "    return Task('mine', (x, y), (x, y),\n"
        "                lambda: nn.Sequential(nn.Linear(3, helper.WIDTH), nn.Linear(helper.WIDTH, DEPTH)))\n"
    )  # fmt: skip
    spec = f"{tmp_path / 'mine.py'}:make_task"
    first = prepare_task(spec)
    importlib.import_module("unrelated")  # the process imports another module of that folder: a test beside it
    assert code_identity(first, spec) == first.identity
    for helper, edited in (("sizes", "DEPTH = 2  # edited\n"), ("helper", "WIDTH = 8  # edited\n")):
        (tmp_path / f"{helper}.py").write_text(edited)
        assert code_identity(first, spec) != first.identity, helper
        first = replace(first, identity=code_identity(first, spec))


def test_a_task_built_in_python_is_keyed_by_its_code_and_data():
    task = make_task()
    same = make_task()
    assert code_identity(task, None) == code_identity(same, None)
    other_data = Task(**{**task.__dict__, "train": (task.train[0] + 1, task.train[1])})
    assert code_identity(other_data, None) != code_identity(task, None)


def test_a_task_built_in_python_is_keyed_by_what_its_functions_reach():
    def task_of_width(width: int) -> Task:
        return Task("w", (X, Y), (X, Y), lambda: nn.Sequential(nn.Linear(3, width), nn.Linear(width, 2)))

    def typed_in(source: str) -> Task:  # code whose source is kept nowhere, as at a REPL or on stdin
        namespace: dict[str, object] = {"nn": nn}
        exec(compile(f"make_model = lambda: {source}", "<stdin>", "exec"), namespace)
        return Task("t", (X, Y), (X, Y), namespace["make_model"])  # type: ignore[arg-type]

    assert code_identity(task_of_width(16), None) == code_identity(task_of_width(16), None)
    assert code_identity(task_of_width(16), None) != code_identity(task_of_width(32), None)
    typed = code_identity(typed_in("nn.Linear(3, 2)"), None)
    assert code_identity(typed_in("nn.Linear(3, 2)"), None) == typed
    assert code_identity(typed_in("nn.Linear(3, 2, bias=False)"), None) != typed

    def behind_a_decorator(width: int) -> Task:
        namespace: dict[str, object] = {"nn": nn, "functools": functools}
        source = f"@functools.cache\ndef width():\n    return {width}\n\nmake_model = lambda: nn.Linear(3, width())"
        exec(compile(source, "<stdin>", "exec"), namespace)
        return Task("d", (X, Y), (X, Y), namespace["make_model"])  # type: ignore[arg-type]

    assert code_identity(behind_a_decorator(2), None) != code_identity(behind_a_decorator(3), None)

    @dataclasses.dataclass
    class Config:
        width: int

    def configured(width: int) -> Task:  # a user object reached through a closure
        config = Config(width)
        return Task("c", (X, Y), (X, Y), lambda: nn.Linear(3, config.width))

    assert code_identity(configured(4), None) == code_identity(configured(4), None)
    assert code_identity(configured(4), None) != code_identity(configured(5), None)

    def holding(value: object) -> Task:  # a numpy scalar, a generator's state: read by value
        return Task("v", (X, Y), (X, Y), lambda: nn.Linear(3, 2, bias=value is not None))

    assert code_identity(holding(np.int64(4)), None) != code_identity(holding(np.int64(5)), None)
    assert code_identity(holding(random.Random(0)), None) != code_identity(holding(random.Random(1)), None)
    named = [Task("m", (X, Y), (X, Y), linear, metric=Metric(name, accuracy)) for name in ("top-1", "hits")]
    assert code_identity(named[0], None) != code_identity(named[1], None)


MODEL_ELSEWHERE = """\
import enum
import functools
import types
from os import environ

import torch
from torch import nn

WIDTH = {width}
OPTIONS = types.SimpleNamespace(tags={{"alpha", "beta", "gamma", "delta"}}, scale=torch.tensor(1.0))


class Activation(enum.Enum):
    RELU = functools.partial(torch.relu)  # its repr holds an address

    def __call__(self, x):
        return self.value(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, WIDTH * len(OPTIONS.tags) // 4)
        self.head = nn.Linear(WIDTH, 2)

    def forward(self, x):
        if environ.get("NET_DEBUG"):
            print(x.shape)
        return self.head(Activation.RELU(self.layer(x){activation})) * OPTIONS.scale
"""
TASK_BESIDE = """\
import sys
from pathlib import Path

import torch
from decaylab import Task

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
from net import Net


def make_task():
    x, y = torch.arange(60.0).view(20, 3) / 60, torch.arange(20) % 2
    return Task("elsewhere", (x, y), (x, y), lambda: Net())
"""


def test_the_run_keys_see_a_model_in_another_folder_in_every_process(tmp_path):
    """The project layout exp/task.py + src/net.py: the task file's folder does not hold the model.
    Identities are computed in fresh processes, as two runs of the CLI would."""
    import subprocess
    import sys

    (tmp_path / "src").mkdir()
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "task.py").write_text(TASK_BESIDE)
    spec = f"{tmp_path / 'exp' / 'task.py'}:make_task"

    def identity(width: int, activation: str = "", hash_seed: str = "1") -> str:
        (tmp_path / "src" / "net.py").write_text(MODEL_ELSEWHERE.format(width=width, activation=activation))
        script = f"from decaylab.lab.study import prepare_task; print(prepare_task({spec!r}).identity)"
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed, "UNRELATED": hash_seed}
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment)
        assert run.returncode == 0, run.stderr
        return run.stdout

    first = identity(8)
    assert identity(8, hash_seed="2") == first  # set order and the environment change, the code does not
    assert identity(16) != first
    assert identity(8, ".relu()") != first


@pytest.mark.parametrize("function", ["classifier", "regression", "language_model"])
def test_the_readmes_example_tasks_load_and_fit_their_data(function):
    examples = Path(__file__).parents[2] / "examples" / "tasks.py"
    task = prepare_task(f"{examples}:{function}")
    assert task.identity.startswith(task.name + "@")


def test_a_task_with_its_own_loss_is_judged_by_that_loss_unless_it_names_a_metric():
    regression = Task("r", (X, X[:, :1]), (X, X[:, :1]), lambda: nn.Linear(3, 1), loss=nn.functional.mse_loss)
    assert (regression.selection_metric.name, regression.selection_metric.higher_is_better) == ("loss", False)
    assert Task("c", (X, Y), (X, Y), linear).selection_metric.name == "accuracy"


def test_a_task_file_in_the_current_directory_loads(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(
        "import torch\nfrom torch import nn\nfrom decaylab import Task\n\n"
        "def make_task():\n"
        "    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))\n"
        "    return Task('here', (x, y), (x, y), lambda: nn.Linear(3, 2))\n"
    )
    monkeypatch.chdir(tmp_path)
    assert prepare_task("mine.py:make_task").identity.startswith("here@")


def test_a_training_set_that_ends_in_a_batch_of_one_is_refused_for_batchnorm_and_trained_without_it():
    """21 examples in batches of 10 end in a batch of one: BatchNorm1d cannot train on it (torch's "Expected more
    than 1 value per channel"), so the task is refused before training, naming N; a model without it trains."""
    x, y = torch.randn(21, 3), torch.randint(0, 2, (21,))

    def task(norm: bool) -> Task:
        layers = [nn.Linear(3, 4), *([nn.BatchNorm1d(4)] if norm else []), nn.Linear(4, 2)]
        return Task("last", (x, y), (x, y), lambda: nn.Sequential(*layers), batch_size=10)

    with pytest.raises(UsageError, match="N=21 in batches of 10 leaves a last batch of one"):
        check_one_batch(task(norm=True))
    check_one_batch(task(norm=False))
    check_one_batch(replace(task(norm=True), batch_size=7))


@pytest.mark.parametrize(
    ("name", "folder"),
    [("tiny-bn", "tiny-bn"), ("x/../../escaped-dir/pwn", "x-..-..-escaped-dir-pwn"), ("..", "task"),
     ("a\nb\x1b]0;title\x07", "a-b-0-title")],
)  # fmt: skip
def test_a_task_name_becomes_one_folder_under_runs_never_a_path_out_of_it(tmp_path, name, folder):
    from decaylab.lab.task.loading import folder_name

    assert folder_name(name) == folder
    runs = tmp_path / "runs"
    assert (runs / folder_name(name)).resolve().parent == runs.resolve()
