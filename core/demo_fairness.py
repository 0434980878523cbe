"""The demo's fairness story: what credit-default's card declares sensitive, and why the risk officers accepted
the disparities the high tier's check finds (a decision on record, not a pass).
"""

FAIRNESS_OVERRIDE = ("Below the four-fifths rule on age and education: younger clients and clients with high-school "
                     "education are predicted to default more often, as their observed default rates are higher and the "
                     "scores are calibrated within each group. Acceptable for collections prioritisation (a person "
                     "reviews every contact, no credit is denied on the score); re-examine at re-certification.")

# credit-default's sensitive attributes as its card declares them: coded values named, rare codes merged.
CREDIT_SENSITIVE = [
    {"column": "SEX", "name": "Sex", "labels": {"1": "male", "2": "female"}},
    {"column": "AGE", "name": "Age", "bands": [25, 35, 45, 60]},
    {"column": "MARRIAGE", "name": "Marital status",
     "labels": {"1": "married", "2": "single", "3": "other", "0": "other"}},
    {"column": "EDUCATION", "name": "Education",
     "labels": {"1": "graduate school", "2": "university", "3": "high school", "0": "other or unknown",
                "4": "other or unknown", "5": "other or unknown", "6": "other or unknown"}},
]
