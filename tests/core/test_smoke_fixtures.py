from tests.conftest import make_version


def test_fixtures_give_roles_and_a_registrable_store(store, people):
    assert people["ds"].roles == {"data_scientist"}
    v = make_version(store, people["ds"])
    assert v.ref == "toy-model:1" and 0.5 < v.metrics["auc"] <= 1


def test_demo_store_has_real_models(demo_store):
    from core.registry import catalog

    m = catalog.get_model(demo_store, "credit-default")
    assert len(m.versions) >= 2
    assert 0.7 < m.versions[0].metrics["auc"] < 0.85
