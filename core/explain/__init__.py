"""SHAP explanations in terms of the original inputs: computed, cached, summarised for other areas."""
