"""Run folders: their layout, checkpoints and metrics file, written once and
read by training, pipelines, evaluation and diagnosis alike.

    runs/NAME/config.json        the settings (train, model, data)
    runs/NAME/checkpoints/       step-NNNNNNNN/ folders (ganforge.runs.checkpoint)
    runs/NAME/best/              the best-FID checkpoint under --eval-every
    runs/NAME/samples/           previews
    runs/NAME/metrics.jsonl      training and evaluation records
    runs/NAME/.lock              held by the one trainer of the run (ganforge.runs.lock)
"""
