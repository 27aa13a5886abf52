"""Task files as users write them, with the model a class at module level: every command runs them on two
workers (``transfer`` and the claims send task variants to the workers as objects, with the file's class)."""

from pathlib import Path

from .test_cli import run_cli

CLASSES = f"{Path(__file__).parents[1] / 'lab' / 'class_task.py'}:make_task"


def test_a_task_file_with_a_model_class_runs_study_transfer_and_claims_on_two_workers(capsys, tmp_path):
    common = ["--task", CLASSES, "--workers", "2", "--quiet"]
    study = ["study", *common, "--methods", "adamw", "--lrs", "1e-2,3e-2", "--wds", "0,1e-3", "--epochs", "2"]
    assert run_cli(capsys, *study, "--out", str(tmp_path / "study"))[0] == 0
    status, out, err = run_cli(capsys, "transfer", *common, "--quick", "--out", str(tmp_path / "transfer"))
    assert status == 0, err
    assert out.startswith("A smoke run") and (tmp_path / "transfer" / "transfer.md").exists()
    claims = ["claims", *common, "--bn-task", CLASSES, "--only", "timescale", "--quick"]
    status, _, err = run_cli(capsys, *claims, "--out", str(tmp_path / "claims"))
    assert status == 0, err
