namespace SrMobile.Contracts.Tests;

public class SearchSpecReaderTests
{
    private const string Valid = """
        name: phones-x3
        scales: [3]
        depths: [2, 4]
        widths: [16, 28]
        quantization:
          - {kind: ptq, method: minmax, calibration_images: 100}
          - {kind: qat, iterations: 20000, lr: 1.0e-4}
        training: {iterations: 20000, batch_size: 16, patch_size: 64, lr: 1.0e-3, lr_milestones: [0.6, 0.85]}
        datasets: {train: data/train, validation: data/val, calibration: data/calib}
        devices: [local, pixel-8]
        protocol: {input: 360x640, threads: 1, warmup: 5, min_runs: 20, min_seconds: 5, max_seconds: 60}
        constraints:
          max_ms: {pixel-8: 40}
        activations: {pixel-8: int8}
        priority: 2
        """;

    [Fact]
    public void A_valid_spec_reads_every_field()
    {
        var (spec, errors) = SearchSpecReader.Parse(Valid);
        Assert.Empty(errors);
        Assert.NotNull(spec);
        Assert.Equal("phones-x3", spec.Name);
        Assert.Equal(8, spec.CandidateCount);
        Assert.Equal(["ptq-minmax-100", "qat-20000-0.0001"], spec.Quantization.Select(q => q.Key));
        Assert.Equal(new MeasurementProtocol(360, 640, 1, 5, 20, 5, 60), spec.Protocol);
        Assert.Equal(40, spec.MaxMilliseconds["pixel-8"]);
        Assert.Equal("int8", spec.Activations!["pixel-8"]);
        Assert.Equal(2, spec.Priority);
    }

    [Fact]
    public void The_same_spec_as_json_reads_the_same()
    {
        var json = """
            {"name": "j", "scales": [2, 4], "depths": [1], "widths": [8], "quantization": [{"kind": "ptq"}],
             "datasets": {"train": "t"}, "devices": ["local"]}
            """;
        var (spec, errors) = SearchSpecReader.Parse(json);
        Assert.Empty(errors);
        Assert.Equal(2, spec!.CandidateCount);
        Assert.Equal(new MeasurementProtocol(360, 640, 1, 5, 20, 5, 120), spec.Protocol);
    }

    [Fact]
    public void An_invalid_spec_reports_all_of_its_problems_each_with_its_field()
    {
        var (spec, errors) = SearchSpecReader.Parse("""
            name: Bad Name
            scales: [3, 5]
            depths: [0]
            widths: [x]
            quantization: [{kind: int4}]
            training: {iterations: 0, lr: -1, bacth_size: 4}
            datasets: {}
            devices: [local, local]
            protocol: {input: big}
            constraints: {max_ms: {tv: 10}}
            activations: {tv: int8, local: int4}
            mai_constant: -2
            """);
        Assert.Null(spec);
        var fields = errors.Select(e => e.Field).ToList();
        foreach (var field in new[]
        {
            "name", "scales[1]", "depths[0]", "widths[0]", "quantization[0].kind", "training.iterations", "training.lr",
            "training.bacth_size", "datasets.train", "devices", "protocol.input", "constraints.max_ms.tv", "activations.tv", "activations.local", "mai_constant",
        })
        {
            Assert.Contains(field, fields);
        }
        Assert.Contains(errors, e => e.ToString() == "scales[1]: 5 must be 2, 3 or 4");
        Assert.Contains(errors, e => e.ToString() == "training.bacth_size: unknown key");
        Assert.Contains(errors, e => e.ToString() == "activations.local: must be uint8 or int8, not 'int4'");
    }

    [Theory]
    [InlineData("", "uint8,int8")]
    [InlineData("local: uint8", "uint8,int8")]
    [InlineData("local: uint8, pixel-8: int8", "uint8,int8")]
    [InlineData("local: int8, pixel-8: int8", "int8")]
    [InlineData("local: uint8, pixel-8: uint8", "uint8")]
    public void A_trainer_exports_the_graphs_the_devices_need_and_both_for_a_device_left_to_its_facts(string activations, string graphs)
    {
        var (spec, errors) = SearchSpecReader.Parse($$"""
            {name: a, scales: [3], depths: [1], widths: [8], quantization: [{kind: ptq}], datasets: {train: t},
             devices: [local, pixel-8], activations: { {{activations}} } }
            """);
        Assert.Empty(errors);
        var candidate = SearchGrid.Expand(spec!).Single();
        Assert.Equal(graphs, string.Join(",", ActivationTypes.Needed(candidate.Devices, candidate.Activations)));
    }

    [Theory]
    [InlineData("Arm64", "int8")]
    [InlineData("Arm", "int8")]
    [InlineData("X64", "uint8")]
    [InlineData(null, "uint8")]
    public void A_device_left_to_its_facts_measures_what_its_architecture_runs_best(string? architecture, string activations) =>
        Assert.Equal(activations, ActivationTypes.ForArchitecture(architecture));

    [Fact]
    public void Broken_yaml_is_one_clear_error()
    {
        var (spec, errors) = SearchSpecReader.Parse("name: [unclosed");
        Assert.Null(spec);
        Assert.Single(errors);
        Assert.Contains("not valid YAML or JSON", errors[0].Message);
    }
}
