"""Small run folders written by hand: what the runs list reads, without training."""
import json


def fake_run(root, name, status="completed", epochs=2):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "experiment.json").write_text(json.dumps({"name": name, "data": {"source": "digits"},
                                                        "model": {"api": "functional"},
                                                        "training": {"loop": "fit", "epochs": epochs}}))
    (folder / "history.csv").write_text("epoch,loss,val_accuracy\n" + "".join(f"{e},0.5,0.{e}\n"
                                                                               for e in range(1, epochs + 1)))
    (folder / "metrics.json").write_text(json.dumps({"status": status}))
    return folder
