"""What a downloaded model folder or checkpoint cannot do: run its own Python code, unpickle arbitrary objects, or
escape the chat template's sandbox. Each payload would create a marker file; none may."""

import json
import shutil

import pytest
import torch

from tunesmith.errors import ModelError, RunError, TunesmithError
from tunesmith.models.chat import render
from tunesmith.models.load import load_base_model, load_tokenizer


class Payload:
    """Unpickled, it would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_model_folder_with_its_own_code_is_refused_without_running_it(tmp_path, tiny_model_dir):
    folder = tmp_path / "remote-code"
    shutil.copytree(tiny_model_dir, folder)
    marker = tmp_path / "code-ran"
    code = f"open({str(marker)!r}, 'w').close()\nfrom transformers import LlamaConfig, LlamaForCausalLM\n"
    (folder / "evil.py").write_text(code)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.LlamaConfig", "AutoModelForCausalLM": "evil.LlamaForCausalLM"}
    config["model_type"] = "evil-llama"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="trust_remote_code"):
        load_base_model(folder)
    assert not marker.exists()


def test_a_checkpoint_holding_pickled_objects_is_refused_when_resuming(tmp_path, tiny_model_dir, monkeypatch):
    from tests.e2e.test_cli import make_config
    from tunesmith.config import load_config
    from tunesmith.pipeline import resume_run, train_run
    from tunesmith.training.callbacks import ProgressCallback

    config_path = make_config(tmp_path, tiny_model_dir, training={"epochs": 2, "batch_size": 4, "bf16": False})

    def stop_after_first_checkpoint(self, args, state, control, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ProgressCallback, "on_save", stop_after_first_checkpoint, raising=False)
    with pytest.raises(TunesmithError):
        train_run(load_config(config_path))
    monkeypatch.undo()
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    [checkpoint] = (run / "checkpoints").iterdir()
    marker = tmp_path / "unpickled"
    torch.save({"python": Payload(marker)}, checkpoint / "rng_state.pth")
    with pytest.raises(RunError, match="holds Python objects, not only tensors"):
        resume_run(run)
    assert not marker.exists()


def test_a_chat_template_reaching_for_python_internals_is_stopped(tmp_path, tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    marker = tmp_path / "template-escaped"
    tokenizer.chat_template = (
        "{{ ''.__class__.__mro__[1].__subclasses__() }}"
        f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}"
    )
    with pytest.raises(ModelError, match="sandbox"):
        render(tokenizer, [{"role": "user", "content": "hi"}], generation=True)
    assert not marker.exists()
