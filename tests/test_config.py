import dataclasses, re
import pytest, yaml
from hypothesis import assume, given, settings, strategies as st
from hnn_trading.config import RunConfig, ConfigError, Section

SECTIONS = [f.name for f in dataclasses.fields(RunConfig) if f.name != "seed"]

@pytest.mark.parametrize("section", SECTIONS)
def test_unknown_key_in_every_section_raises_naming_it(section):
    with pytest.raises(ConfigError) as e: RunConfig.from_dict({section: {"no_such_key": 1}})
    msg = str(e.value)
    assert f"unknown key 'no_such_key' in RunConfig.{section}" in msg and "Valid keys:" in msg
    valid = [f.name for f in dataclasses.fields(getattr(RunConfig(), section))]
    assert all(k in msg for k in valid)

def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match="unknown key 'stratgy' in RunConfig. Did you mean 'strategy'"): RunConfig.from_dict({"stratgy": {}})

def test_section_must_be_mapping():
    with pytest.raises(ConfigError, match="RunConfig.strategy: expected a mapping"): RunConfig.from_dict({"strategy": 0.6})

def test_file_errors_name_the_file(tmp_path):
    p = tmp_path/"c.yaml"; p.write_text("strategy: {threshold: [0.5\n")
    with pytest.raises(ConfigError, match="c.yaml: not valid YAML"): RunConfig.from_yaml(p)
    p.write_text("model:\n  name: mlp\n  hiden_dim: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'hiden_dim' in RunConfig\.model\. Did you mean 'hidden_dim'"): RunConfig.from_yaml(p)

def test_demo_config_loads(root):
    c = RunConfig.from_yaml(root/"configs"/"demo.yaml")
    assert c.backtest.position_cap == 0.5 and c.model.name == "hermite" and c.features.set == "core23"
    from hnn_trading.reports import available_reports
    assert set(c.report.templates) <= set(available_reports())

def _random_overrides():
    c = RunConfig()
    opts = []
    for s in SECTIONS:
        for f in dataclasses.fields(getattr(c, s)):
            md = f.metadata
            v = getattr(getattr(c, s), f.name)
            if md.get("choices"): opts.append(st.tuples(st.just(f"{s}.{f.name}"), st.sampled_from(md["choices"])))
            elif isinstance(v, bool): opts.append(st.tuples(st.just(f"{s}.{f.name}"), st.booleans()))
            elif isinstance(v, int) and md.get("lo") is not None:
                opts.append(st.tuples(st.just(f"{s}.{f.name}"), st.integers(int(md["lo"]), int(md["hi"]) if md.get("hi") is not None else 10**6)))
            elif isinstance(v, float) and md.get("lo") is not None and md.get("hi") is not None:
                opts.append(st.tuples(st.just(f"{s}.{f.name}"), st.floats(md["lo"], md["hi"], allow_nan=False, allow_subnormal=False)))
    return st.lists(st.one_of(*opts), max_size=12).map(dict)

@settings(max_examples=60, deadline=None)
@given(_random_overrides())
def test_yaml_round_trip_is_exact(tmp_path_factory, ov):
    try: c = RunConfig().override(ov)
    except ConfigError as e:                                                   # a position cap no entry can fill is refused (issue 27)
        assert "never fill" in str(e), str(e)
        assume(False)
    p = tmp_path_factory.mktemp("cfg")/"c.yaml"
    c.to_yaml(p)
    c2 = RunConfig.from_yaml(p)
    assert c2 == c and c2.to_yaml() == c.to_yaml()

@pytest.mark.parametrize("key,value,msg", [
    ("training.learning_rate", -1.0, "out of range"), ("training.epochs", 2.5, "expected an integer"),
    ("backtest.long_only", "yes", "expected true or false"), ("model.density", "student", "choose one of"),
    ("data.symbols", "SPY", "expected a list"), ("splits.window", "rolling", "choose one of ['expanding', 'sliding']"),
])
def test_bad_values(key, value, msg):
    with pytest.raises(ConfigError, match=re.escape(msg)) as e: RunConfig().override({key: value})
    assert key.split(".")[-1] in str(e.value)

def test_a_top_k_book_must_fit_max_positions():
    "strategy.top_k long and (unless long-only) k short positions each bar: more than backtest.max_positions would be dropped by the engine without a word."
    with pytest.raises(ConfigError, match=re.escape("strategy.top_k = 6 holds 6 long and 6 short positions each bar, over backtest.max_positions = 10")):
        RunConfig().override({"strategy.top_k": 6, "backtest.long_only": False, "backtest.max_positions": 10})
    assert RunConfig().override({"strategy.top_k": 5, "backtest.long_only": False, "backtest.max_positions": 10}).strategy.top_k == 5
    with pytest.raises(ConfigError, match=re.escape("backtest.max_positions = 0 is out of range (must be >= 1)")): RunConfig().override({"backtest.max_positions": 0})

# issue 27: config semantics that cannot surprise
@pytest.mark.parametrize("text, words", [
    ("training:\n  epochs: 2\n  batch_size: 8\nmodel:\n  name: mlp\ntraining:\n  epochs: 3\n", "c.yaml: duplicate key training at lines 1 and 6"),
    ("training:\n  epochs: 2\n  epochs: 3\n", "c.yaml: duplicate key training.epochs at lines 2 and 3"),
    ("strategy: {threshold: 0.6, threshold: 0.7}\n", "c.yaml: duplicate key strategy.threshold at lines 1 and 1"),
    ("seed: 010\n", "c.yaml: seed = 010 (line 1) has a leading zero, which YAML 1.1 reads as octal (8); write 10"),
    ("model:\n  name: mlp\nseed: 1:30\n", "c.yaml: seed = 1:30 (line 3) is a YAML 1.1 base-60 number (90)"),
    ("training:\n  learning_rate: 1:30.5\n", "training.learning_rate = 1:30.5 (line 2) is a YAML 1.1 base-60 number"),
    ("backtest:\n  initial_equity: 0\n", "c.yaml: RunConfig.backtest.initial_equity = 0.0 must be above 0"),
    ("backtest:\n  position_cap: 2.01\n  leverage: 1.0\n", "backtest.position_cap = 2.01 x backtest.min_entry = 0.5 is above backtest.leverage = 1.0"),
    ("backtest:\n  position_cap: 1.0\n  min_entry: 0.9\n  leverage: 0.5\n", "keep position_cap <= leverage / min_entry = 0.5556"),
])
def test_surprising_yaml_and_cross_field_conflicts_are_refused(tmp_path, text, words):
    p = tmp_path/"c.yaml"; p.write_text(text)
    with pytest.raises(ConfigError) as e: RunConfig.from_yaml(p)
    assert words in str(e.value) and "\n" not in str(e.value), str(e.value)

@pytest.mark.parametrize("text, check", [
    ("seed: '010'\n", lambda c: c.seed is None),                            # quoted: text, refused as a seed by type, not read as 8
    ("data:\n  start: 2018-01-01\nseed: 10\n", lambda c: c.seed == 10 and c.data.start == "2018-01-01"),
    ("backtest:\n  position_cap: 2.0\n  leverage: 1.0\n", lambda c: c.backtest.position_cap == 2.0),   # exactly leverage / min_entry fills
    ("backtest:\n  position_cap: 4.0\nstrategy:\n  scale: 0.25\n", lambda c: c.strategy.scale == 0.25),  # targets of 1.0 fit
    ("backtest:\n  position_cap: 3.0\n  min_entry: 0.0\n", lambda c: c.backtest.min_entry == 0.0),
])
def test_what_is_meant_still_loads(tmp_path, text, check):
    p = tmp_path/"c.yaml"; p.write_text(text)
    if text.startswith("seed: '010'"):
        with pytest.raises(ConfigError, match="RunConfig.seed: expected an integer, got '010'"): RunConfig.from_yaml(p)
        return
    assert check(RunConfig.from_yaml(p))

def test_every_shipped_config_loads(root):
    from hnn_trading.config import read_warm_start, strict_yaml
    from hnn_trading.hpo import SearchSpace
    files = sorted((root/"configs").rglob("*.yaml"))
    assert len(files) >= 15
    for f in files:
        strict_yaml(f.read_text())                                             # no duplicate key or YAML 1.1 number anywhere
        if f.parent.name == "configs": RunConfig.from_yaml(f)
        elif f.parent.name == "search" and f.name.startswith("warm"): assert read_warm_start(f)  # every set a RunConfig's
        elif f.parent.name == "search": SearchSpace.from_yaml(f)

@pytest.mark.parametrize("text, words", [
    ("name: a\nname: b\n", "camp.yaml: duplicate key name at lines 1 and 2"),
    ("name: a\nbase:\n  seed: 010\n", "camp.yaml: base.seed = 010 (line 3) has a leading zero"),
])
def test_campaign_files_are_read_as_strictly_as_configs(tmp_path, text, words):
    "Issue 27: the campaign loader used plain yaml.safe_load: a duplicate key's last value won, 010 became 8."
    from hnn_trading.campaign import Campaign
    p = tmp_path/"camp.yaml"; p.write_text(text)
    with pytest.raises(ConfigError) as e: Campaign.from_yaml(p)
    assert words in str(e.value) and "\n" not in str(e.value), str(e.value)
