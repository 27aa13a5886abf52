#!/usr/bin/env bash
# On a CUDA machine: the optimizer benchmark against torch's fused AdamW, and a short
# grid-batched ResNet-20 study on generated CIFAR-format data, printing step times and
# throughput. Needs decaylab installed (make test's .venv, or pip install -e .).
#
#   bash benchmarks/gpu_check.sh            # about 2-4 minutes on one H100/H200
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONUNBUFFERED=1
$PYTHON -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"

echo "== optimizer step, 10M fp32 parameters in 50 tensors, CUDA =="
$PYTHON benchmarks/optim_step.py --device cuda --repeats 50

echo "== grid-batched ResNet-20 on generated CIFAR-format data, CUDA =="
$PYTHON benchmarks/resnet_throughput.py --device cuda
