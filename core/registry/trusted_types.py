"""The reviewed list of what a model file may contain: the only place ModelGov decides what it trusts.

A skops file is a zip holding `schema.json`, a tree of nodes. Each node names a
loader (how skops rebuilds it) and a type (`module.Class`). skops turns some
names into objects by importing and calling them, so a name is code: a file
that names `numpy.testing._private.utils.runstring` as a constructor runs a
string. ModelGov therefore trusts no module prefix and no function: a file
loads only when every node's (loader, type) pair is listed below, exactly.

What is listed, and why:

- ESTIMATORS: scikit-learn estimators, transformers and pipelines from
  `sklearn.utils.all_estimators()` whose fitted state was reviewed: either it
  is numpy arrays and Python values that numpy and Python bound-check, or the
  compiled code that indexes it without checks is guarded by a validator in
  `core/registry/safe_load.py` (trees, histogram-boosting predictors, KD/ball trees,
  libsvm supports, k-means centres, neighbour labels, sparse matrices).
- NOT_REVIEWED: every other class `all_estimators()` lists, with the reason
  it is refused. A test keeps ESTIMATORS and NOT_REVIEWED together equal to
  `all_estimators()`, so a scikit-learn upgrade that adds or moves a class
  fails the suite until someone reviews it.
- INTERNALS: the classes those estimators hold once fitted (losses, links,
  tree structures, distance metrics, kernels, cross-validation splitters).
- the array and container types skops itself trusts: numpy arrays and their
  scalar types, dtypes, masked arrays, random states, the builtin containers.

Never listed: functions, methods, `operator` callables, and classes rebuilt
by calling them with arguments from the file (`ConstructorFromReduceNode`).
An estimator whose fitted state holds a function
(`FunctionTransformer(func=np.log1p)`, `SelectKBest(score_func=f_classif)`)
is refused with a sentence naming the function.

One exception, REVIEWED_PARTIALS: scikit-learn's own
`functools.partial(check_array, dtype=[numpy.float64], ensure_all_finite=False)`,
which a `HistGradientBoosting*` with categorical features builds for itself
(its numeric columns pass through it). `check_array` only validates and
converts an array; the file may name no other function, no positional
argument and no keyword outside the listed ones, and the structural check
(core/registry/model_checks.py) accepts the partial only with exactly the
values scikit-learn writes and only inside the preprocessor it builds.

How to extend (a security review, not a convenience edit):

1. Fit the class, `skops.io.dump` it and try `modelgov register`; the refusal
   names each unreviewed `module.Class`.
2. Read the class's fitted state and its predict/transform code. If compiled
   code (Cython, C, C++) reads stored arrays by stored indices or stored sizes,
   add a validator to `core/registry/safe_load.py` and an attack test that corrupts
   those indices (tests/core/test_artifacts_attacks.py) before listing it.
3. Add the exact name below, under the loader skops uses for it (the refusal
   says which), and move it out of NOT_REVIEWED if it was there.
"""

from __future__ import annotations


def _in(module: str, *classes: str) -> set[str]:
    return {f"{module}.{c}" for c in classes}


# -- scikit-learn estimators a person may register or use as a pipeline step ---------------------------
ESTIMATORS: frozenset[str] = frozenset(
    # Linear models: fitted state is coefficient arrays; predict is numpy.
    _in("sklearn.linear_model._base", "LinearRegression")
    | _in("sklearn.linear_model._bayes", "ARDRegression", "BayesianRidge")
    | _in("sklearn.linear_model._coordinate_descent", "ElasticNet", "ElasticNetCV", "Lasso", "LassoCV",
          "MultiTaskElasticNet", "MultiTaskElasticNetCV", "MultiTaskLasso", "MultiTaskLassoCV")
    | _in("sklearn.linear_model._glm.glm", "GammaRegressor", "PoissonRegressor", "TweedieRegressor")
    | _in("sklearn.linear_model._huber", "HuberRegressor")
    | _in("sklearn.linear_model._least_angle", "Lars", "LarsCV", "LassoLars", "LassoLarsCV", "LassoLarsIC")
    | _in("sklearn.linear_model._logistic", "LogisticRegression", "LogisticRegressionCV")
    | _in("sklearn.linear_model._omp", "OrthogonalMatchingPursuit", "OrthogonalMatchingPursuitCV")
    | _in("sklearn.linear_model._passive_aggressive", "PassiveAggressiveClassifier", "PassiveAggressiveRegressor")
    | _in("sklearn.linear_model._perceptron", "Perceptron")
    | _in("sklearn.linear_model._quantile", "QuantileRegressor")
    | _in("sklearn.linear_model._ransac", "RANSACRegressor")
    | _in("sklearn.linear_model._ridge", "Ridge", "RidgeCV", "RidgeClassifier", "RidgeClassifierCV")
    | _in("sklearn.linear_model._stochastic_gradient", "SGDClassifier", "SGDOneClassSVM", "SGDRegressor")
    | _in("sklearn.linear_model._theil_sen", "TheilSenRegressor")
    | _in("sklearn.svm._classes", "LinearSVC", "LinearSVR")
    | _in("sklearn.cross_decomposition._pls", "CCA", "PLSCanonical", "PLSRegression", "PLSSVD")
    | _in("sklearn.discriminant_analysis", "LinearDiscriminantAnalysis", "QuadraticDiscriminantAnalysis")
    | _in("sklearn.naive_bayes", "BernoulliNB", "CategoricalNB", "ComplementNB", "GaussianNB", "MultinomialNB")
    | _in("sklearn.dummy", "DummyClassifier", "DummyRegressor")
    | _in("sklearn.isotonic", "IsotonicRegression")
    | _in("sklearn.kernel_ridge", "KernelRidge")
    | _in("sklearn.gaussian_process._gpc", "GaussianProcessClassifier")
    | _in("sklearn.gaussian_process._gpr", "GaussianProcessRegressor")
    | _in("sklearn.neural_network._multilayer_perceptron", "MLPClassifier", "MLPRegressor")
    # libsvm: support vectors, counts and coefficients are checked against each other (safe_load).
    | _in("sklearn.svm._classes", "NuSVC", "NuSVR", "OneClassSVM", "SVC", "SVR")
    # Trees and tree ensembles: node arrays, depths and feature indices are checked (safe_load).
    | _in("sklearn.tree._classes", "DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
          "ExtraTreeRegressor")
    | _in("sklearn.ensemble._forest", "ExtraTreesClassifier", "ExtraTreesRegressor", "RandomForestClassifier",
          "RandomForestRegressor", "RandomTreesEmbedding")
    | _in("sklearn.ensemble._gb", "GradientBoostingClassifier", "GradientBoostingRegressor")
    | _in("sklearn.ensemble._hist_gradient_boosting.gradient_boosting", "HistGradientBoostingClassifier",
          "HistGradientBoostingRegressor")
    | _in("sklearn.ensemble._weight_boosting", "AdaBoostClassifier", "AdaBoostRegressor")
    | _in("sklearn.ensemble._bagging", "BaggingClassifier", "BaggingRegressor")
    | _in("sklearn.ensemble._iforest", "IsolationForest")
    # Neighbours: KD/ball trees, training labels and sample counts are checked (safe_load).
    | _in("sklearn.neighbors._classification", "KNeighborsClassifier", "RadiusNeighborsClassifier")
    | _in("sklearn.neighbors._regression", "KNeighborsRegressor", "RadiusNeighborsRegressor")
    | _in("sklearn.neighbors._unsupervised", "NearestNeighbors")
    | _in("sklearn.neighbors._nearest_centroid", "NearestCentroid")
    # Meta-estimators: they hold other estimators, each checked on its own.
    | _in("sklearn.pipeline", "FeatureUnion", "Pipeline")
    | _in("sklearn.compose._column_transformer", "ColumnTransformer")
    | _in("sklearn.compose._target", "TransformedTargetRegressor")
    | _in("sklearn.calibration", "CalibratedClassifierCV")
    | _in("sklearn.ensemble._voting", "VotingClassifier", "VotingRegressor")
    | _in("sklearn.ensemble._stacking", "StackingClassifier", "StackingRegressor")
    | _in("sklearn.multiclass", "OneVsOneClassifier", "OneVsRestClassifier", "OutputCodeClassifier")
    | _in("sklearn.multioutput", "ClassifierChain", "MultiOutputClassifier", "MultiOutputRegressor", "RegressorChain")
    | _in("sklearn.frozen._frozen", "FrozenEstimator")
    | _in("sklearn.model_selection._classification_threshold", "FixedThresholdClassifier")
    | _in("sklearn.model_selection._search", "GridSearchCV", "RandomizedSearchCV")
    | _in("sklearn.semi_supervised._self_training", "SelfTrainingClassifier")
    # Preprocessing, imputation, feature selection, projections: numpy (k-means centres checked).
    | _in("sklearn.preprocessing._data", "Binarizer", "KernelCenterer", "MaxAbsScaler", "MinMaxScaler", "Normalizer",
          "PowerTransformer", "QuantileTransformer", "RobustScaler", "StandardScaler")
    | _in("sklearn.preprocessing._encoders", "OneHotEncoder", "OrdinalEncoder")
    | _in("sklearn.preprocessing._target_encoder", "TargetEncoder")
    | _in("sklearn.preprocessing._discretization", "KBinsDiscretizer")
    | _in("sklearn.preprocessing._polynomial", "PolynomialFeatures")
    | _in("sklearn.preprocessing._function_transformer", "FunctionTransformer")  # func None or the reviewed partial
    | _in("sklearn.preprocessing._label", "LabelBinarizer", "LabelEncoder", "MultiLabelBinarizer")
    | _in("sklearn.impute._base", "MissingIndicator", "SimpleImputer")
    | _in("sklearn.impute._knn", "KNNImputer")
    | _in("sklearn.feature_selection._variance_threshold", "VarianceThreshold")
    | _in("sklearn.feature_selection._from_model", "SelectFromModel")
    | _in("sklearn.feature_selection._rfe", "RFE", "RFECV")
    | _in("sklearn.feature_selection._sequential", "SequentialFeatureSelector")
    | _in("sklearn.decomposition._pca", "PCA")
    | _in("sklearn.decomposition._incremental_pca", "IncrementalPCA")
    | _in("sklearn.decomposition._truncated_svd", "TruncatedSVD")
    | _in("sklearn.decomposition._factor_analysis", "FactorAnalysis")
    | _in("sklearn.decomposition._fastica", "FastICA")
    | _in("sklearn.decomposition._kernel_pca", "KernelPCA")
    | _in("sklearn.cluster._kmeans", "KMeans", "MiniBatchKMeans")
    | _in("sklearn.random_projection", "GaussianRandomProjection", "SparseRandomProjection")
    | _in("sklearn.kernel_approximation", "AdditiveChi2Sampler", "Nystroem", "PolynomialCountSketch", "RBFSampler",
          "SkewedChi2Sampler")
    | _in("sklearn.feature_extraction._dict_vectorizer", "DictVectorizer")
    | _in("sklearn.feature_extraction._hash", "FeatureHasher")
    | _in("sklearn.feature_extraction.text", "CountVectorizer", "HashingVectorizer", "TfidfTransformer",
          "TfidfVectorizer")
)

_HOLDS_A_FUNCTION = "once fitted it holds a function ({}), and ModelGov never loads functions from a file"
_UNSUPERVISED = ("an unsupervised estimator ModelGov does not govern; its compiled code was not reviewed "
                 "for stored indices")

# Every other class all_estimators() lists, and why a file holding it is refused.
NOT_REVIEWED: dict[str, str] = {
    **{n: _HOLDS_A_FUNCTION.format("score_func")
       for n in _in("sklearn.feature_selection._univariate_selection", "GenericUnivariateSelect", "SelectFdr",
                    "SelectFpr", "SelectFwe", "SelectKBest", "SelectPercentile")},
    "sklearn.cluster._bisect_k_means.BisectingKMeans": _HOLDS_A_FUNCTION.format("its k-means routine"),
    "sklearn.cluster._agglomerative.FeatureAgglomeration": _HOLDS_A_FUNCTION.format("pooling_func"),
    "sklearn.preprocessing._polynomial.SplineTransformer": _HOLDS_A_FUNCTION.format("scipy's asarray in its splines"),
    "sklearn.model_selection._classification_threshold.TunedThresholdClassifierCV":
        _HOLDS_A_FUNCTION.format("its scoring function"),
    "sklearn.cluster._birch.Birch": "skops cannot store it",
    "sklearn.feature_extraction.image.PatchExtractor": "it extracts image patches, not a model ModelGov governs",
    **{n: _UNSUPERVISED for n in (
        _in("sklearn.cluster._affinity_propagation", "AffinityPropagation")
        | _in("sklearn.cluster._agglomerative", "AgglomerativeClustering")
        | _in("sklearn.cluster._dbscan", "DBSCAN")
        | _in("sklearn.cluster._hdbscan.hdbscan", "HDBSCAN")
        | _in("sklearn.cluster._mean_shift", "MeanShift")
        | _in("sklearn.cluster._optics", "OPTICS")
        | _in("sklearn.cluster._bicluster", "SpectralBiclustering", "SpectralCoclustering")
        | _in("sklearn.cluster._spectral", "SpectralClustering")
        | _in("sklearn.mixture._bayesian_mixture", "BayesianGaussianMixture")
        | _in("sklearn.mixture._gaussian_mixture", "GaussianMixture")
        | _in("sklearn.neural_network._rbm", "BernoulliRBM")
        | _in("sklearn.manifold._classical_mds", "ClassicalMDS")
        | _in("sklearn.manifold._isomap", "Isomap")
        | _in("sklearn.manifold._locally_linear", "LocallyLinearEmbedding")
        | _in("sklearn.manifold._mds", "MDS")
        | _in("sklearn.manifold._spectral_embedding", "SpectralEmbedding")
        | _in("sklearn.manifold._t_sne", "TSNE")
        | _in("sklearn.decomposition._dict_learning", "DictionaryLearning", "MiniBatchDictionaryLearning",
              "SparseCoder")
        | _in("sklearn.decomposition._sparse_pca", "MiniBatchSparsePCA", "SparsePCA")
        | _in("sklearn.decomposition._lda", "LatentDirichletAllocation")
        | _in("sklearn.decomposition._nmf", "MiniBatchNMF", "NMF")
        | _in("sklearn.covariance._elliptic_envelope", "EllipticEnvelope")
        | _in("sklearn.covariance._empirical_covariance", "EmpiricalCovariance")
        | _in("sklearn.covariance._graph_lasso", "GraphicalLasso", "GraphicalLassoCV")
        | _in("sklearn.covariance._robust_covariance", "MinCovDet")
        | _in("sklearn.covariance._shrunk_covariance", "LedoitWolf", "OAS", "ShrunkCovariance")
        | _in("sklearn.neighbors._kde", "KernelDensity")
        | _in("sklearn.neighbors._lof", "LocalOutlierFactor")
        | _in("sklearn.neighbors._graph", "KNeighborsTransformer", "RadiusNeighborsTransformer")
        | _in("sklearn.neighbors._nca", "NeighborhoodComponentsAnalysis")
        | _in("sklearn.semi_supervised._label_propagation", "LabelPropagation", "LabelSpreading")
    )},
}

# -- classes the listed estimators hold once fitted ----------------------------------------------------
INTERNALS: frozenset[str] = frozenset(
    _in("sklearn._loss.link", "HalfLogitLink", "IdentityLink", "Interval", "LogLink", "LogitLink", "MultinomialLogit")
    | _in("sklearn._loss.loss", "AbsoluteError", "ExponentialLoss", "HalfBinomialLoss", "HalfBinomialLossArrayAPI",
          "HalfGammaLoss", "HalfMultinomialLoss", "HalfMultinomialLossArrayAPI", "HalfPoissonLoss",
          "HalfPoissonLossArrayAPI", "HalfSquaredError", "HalfTweedieLoss", "HalfTweedieLossIdentity", "HuberLoss",
          "PinballLoss")
    | _in("sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper")
    | _in("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor")  # nodes checked (safe_load)
    | _in("sklearn.neighbors._kd_tree", "KDTree")  # checked (safe_load)
    | _in("sklearn.neighbors._ball_tree", "BallTree")  # checked (safe_load)
    # Only metrics whose state is a weight vector safe_load checks; Mahalanobis, haversine and
    # user functions are not reviewed.
    | _in("sklearn.metrics._dist_metrics", "ChebyshevDistance64", "EuclideanDistance64", "ManhattanDistance64",
          "MinkowskiDistance64")
    | _in("sklearn.calibration", "_CalibratedClassifier", "_SigmoidCalibration", "_TemperatureScaling")
    | _in("sklearn.multiclass", "_ConstantPredictor")
    | _in("sklearn.compose._column_transformer", "make_column_selector")
    | _in("sklearn.gaussian_process._gpc", "_BinaryGaussianProcessClassifierLaplace")
    | _in("sklearn.gaussian_process.kernels", "CompoundKernel", "ConstantKernel", "DotProduct", "ExpSineSquared",
          "Exponentiation", "Matern", "PairwiseKernel", "Product", "RBF", "RationalQuadratic", "Sum", "WhiteKernel")
    | _in("sklearn.neural_network._stochastic_optimizers", "AdamOptimizer", "SGDOptimizer")
    | _in("sklearn.metrics._scorer", "_PassthroughScorer")
    | _in("sklearn.model_selection._split", "GroupKFold", "KFold", "PredefinedSplit", "RepeatedKFold",
          "RepeatedStratifiedKFold", "ShuffleSplit", "StratifiedGroupKFold", "StratifiedKFold",
          "StratifiedShuffleSplit", "TimeSeriesSplit")
    | _in("sklearn.utils._metadata_requests", "MetadataRequest", "MethodMetadataRequest")
)

# Compiled loss objects skops rebuilds with LossNode (constructor = the named class, arguments = its
# parameters: a quantile, a power or a delta).
LOSSES: frozenset[str] = frozenset(
    _in("sklearn._loss._loss", "CyAbsoluteError", "CyExponentialLoss", "CyHalfBinomialLoss", "CyHalfGammaLoss",
        "CyHalfMultinomialLoss", "CyHalfPoissonLoss", "CyHalfSquaredError", "CyHalfTweedieLoss",
        "CyHalfTweedieLossIdentity", "CyHuberLoss", "CyPinballLoss")
    | _in("sklearn.linear_model._sgd_fast", "EpsilonInsensitive", "Hinge", "ModifiedHuber",
          "SquaredEpsilonInsensitive", "SquaredHinge")
)

# -- the array and container types skops itself trusts -------------------------------------------------
# numpy scalar types: stored arrays of these dtypes load with np.load(allow_pickle=False).
NUMPY_SCALARS: frozenset[str] = frozenset(_in(
    "numpy", "bool", "bytes_", "clongdouble", "complex128", "complex64", "datetime64", "float16", "float32",
    "float64", "int16", "int32", "int64", "int8", "longdouble", "longlong", "str_", "timedelta64", "uint16",
    "uint32", "uint64", "uint8", "ulonglong"))
BIT_GENERATORS: frozenset[str] = frozenset(_in("numpy.random", "MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"))
PRIMITIVES: frozenset[str] = frozenset(_in("builtins", "bool", "float", "int", "str"))
# Any of these names is accepted, but what loads is the format written inside the file; safe_load
# accepts only CSR and CSC and checks their index arrays.
SPARSE: frozenset[str] = frozenset(_in("scipy.sparse._csr", "csr_array", "csr_matrix")
                                   | _in("scipy.sparse._csc", "csc_array", "csc_matrix"))

# What each skops loader may build. A loader missing here (FunctionNode, MethodNode, PartialNode,
# OperatorFuncNode, ConstructorFromReduceNode, DefaultDictNode, ...) is refused whatever it names.
ALLOWED: dict[str, frozenset[str]] = {
    "ObjectNode": ESTIMATORS | INTERNALS,
    "TreeNode": frozenset({"sklearn.tree._tree.Tree"}),  # checked (safe_load)
    "LossNode": LOSSES,
    "NdArrayNode": frozenset({"numpy.ndarray"}) | NUMPY_SCALARS,
    "MaskedArrayNode": frozenset({"numpy.ma.MaskedArray"}),
    "DTypeNode": frozenset({"numpy.dtype"}),
    "RandomStateNode": frozenset({"numpy.random.mtrand.RandomState"}),
    "RandomGeneratorNode": frozenset({"numpy.random._generator.Generator"}),
    "SparseMatrixNode": SPARSE,
    # A TypeNode yields the class itself, never an instance: dict key types, `dtype=np.float64`
    # parameters, `make_column_selector(dtype_include=object)`.
    "TypeNode": PRIMITIVES | NUMPY_SCALARS | frozenset({"builtins.object"}),
    "DictNode": frozenset({"builtins.dict", "collections.OrderedDict", "sklearn.utils._bunch.Bunch"}),
    "ListNode": frozenset({"builtins.list"}),
    "TupleNode": frozenset({"builtins.tuple"}),
    "SetNode": frozenset({"builtins.set"}),
    "SliceNode": frozenset({"builtins.slice"}),
    "BytesNode": frozenset({"builtins.bytes"}),
    "BytearrayNode": frozenset({"builtins.bytearray"}),
    "JsonNode": PRIMITIVES,  # rebuilt by json.loads; skops writes builtins.str for every JSON value
}

# The only functions a file may name, each only as the `func` of a `functools.partial` with no positional
# arguments and these keywords (see the module's docstring): scikit-learn's own, in histogram boosting.
REVIEWED_PARTIALS: dict[str, frozenset[str]] = {
    "sklearn.utils.validation.check_array": frozenset({"dtype", "ensure_all_finite"}),
}

# Loaders that stand for a function or a call with arguments from the file: named in refusals.
FUNCTION_LOADERS: frozenset[str] = frozenset({"FunctionNode", "MethodNode", "PartialNode", "OperatorFuncNode"})
