"""The demo listening tests' names: every rater of these tests is simulated (manage.py simulate_ratings),
so no figure from them is ever a verdict on a claim."""

NAME = "demo-simulated"  # ACR
CMOS_NAME, AB_NAME = f"{NAME}-cmos", f"{NAME}-ab"
MUSHRA_NAME, INTELLIGIBILITY_NAME = f"{NAME}-mushra", f"{NAME}-intelligibility"
NAMES = (NAME, CMOS_NAME, AB_NAME, MUSHRA_NAME, INTELLIGIBILITY_NAME)
