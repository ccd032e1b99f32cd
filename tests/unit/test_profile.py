import numpy as np

from mlplatform.data.profile import bin_fractions, build_profile


def test_profile_describes_each_feature_and_class(iris):
    features = iris.drop(columns="species")
    profile = build_profile(features, dict.fromkeys(iris.columns[:4], "numeric"), iris["species"].to_numpy())
    petal = profile["features"]["petal_length"]
    assert profile["rows"] == 150
    assert petal["min"] == 1.0 and petal["max"] == 6.9
    assert abs(sum(petal["bin_fractions"]) - 1.0) < 1e-9
    assert len(petal["bin_fractions"]) == len(petal["bin_edges"]) + 1
    assert set(profile["classes"]) == {"setosa", "versicolor", "virginica"}
    assert profile["classes"]["setosa"]["count"] == 50
    assert len(profile["classes"]["setosa"]["mean"]) == 4


def test_bin_fractions_put_out_of_range_values_in_the_open_end_bins():
    fractions = bin_fractions(np.array([-100.0, 0.5, 1.5, 100.0]), [0.0, 1.0, 2.0])
    assert fractions.tolist() == [0.25, 0.25, 0.25, 0.25]
