"""One masking for every command (sparkpilot.secrets): lint, its --fix, diagnose text and JSON."""

import json

from sparkpilot.cli.main import main
from sparkpilot.secrets import mask_secrets

LOG = ("(APIServer pid=1) INFO 07-23 22:38:15 [api_utils.py:273] non-default args: {'model_tag': 'x/y', "
       "'hf_token': 'abcdefghijklmnop'}\n"
       "(APIServer pid=1) ERROR 07-23 22:38:16 [x.py:1] OSError: HF_TOKEN=secretvalue123 and "
       "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 rejected\n")


def test_mask_secrets_keeps_references_and_package_names():
    assert mask_secrets("HF_TOKEN=abc123 vllm serve m") == "HF_TOKEN=*** vllm serve m"
    assert mask_secrets("-e HF_TOKEN=$HF_TOKEN") == "-e HF_TOKEN=$HF_TOKEN"
    assert mask_secrets("--api-key sk-1234 --port 8000") == "--api-key *** --port 8000"
    assert mask_secrets("pip install hf_transfer") == "pip install hf_transfer"


def test_diagnose_masks_secrets_in_text_and_json(tmp_path, capsys):
    log = tmp_path / "vllm.log"
    log.write_text(LOG)
    for fmt in ("text", "json"):
        main(["diagnose", str(log), "--format", fmt])
        out = capsys.readouterr().out
        assert "secretvalue123" not in out and "abcdefghijklmnop" not in out
        assert "AbCdEfGhIjKlMnOpQrStUvWxYz" not in out
        if fmt == "json":
            json.loads(out)


def test_lint_masks_secrets(capsys):
    main(["lint", "--format", "json", "--", "HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
          "vllm", "serve", "Qwen/Qwen3-8B", "--api-key", "sk-live-1234"])
    out = capsys.readouterr().out
    assert "AbCdEfGhIjKlMnOpQrStUvWxYz" not in out and "sk-live-1234" not in out
