"""The ChestX-ray14 label vocabulary shared by real and phantom data."""

#: The 14 findings of ChestX-ray14, in the order of Wang et al. (2017).
NIH_LABELS: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)

NO_FINDING = "No Finding"

#: 51,759 of the 112,120 ChestX-ray14 images carry at least one finding.
NIH_FINDING_PREVALENCE = 51_759 / 112_120
