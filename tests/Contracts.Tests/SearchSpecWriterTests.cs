namespace SrMobile.Contracts.Tests;

public class SearchSpecWriterTests
{
    [Fact]
    public void A_written_spec_reads_back_field_for_field()
    {
        var (spec, errors) = SearchSpecReader.Parse("""
            name: phones-x3
            scales: [2, 3]
            depths: [2, 4]
            widths: [16, 28]
            quantization:
              - {kind: ptq, method: percentile, calibration_images: 12}
              - {kind: qat, iterations: 300, lr: 2.5e-5}
            training: {iterations: 700, batch_size: 8, patch_size: 48, lr: 5.0e-4, lr_milestones: [0.5, 0.9]}
            datasets: {train: data/train, calibration: data/calib}
            devices: [local, pixel-8]
            protocol: {input: 180x320, threads: 2, warmup: 1, min_runs: 3, min_seconds: 0.5, max_seconds: 9}
            constraints:
              max_ms: {pixel-8: 40.5}
            activations: {pixel-8: int8}
            priority: -1
            mai_constant: 0.25
            """);
        Assert.Empty(errors);

        var (again, againErrors) = SearchSpecReader.Parse(SearchSpecWriter.ToJson(spec!));
        Assert.Empty(againErrors);
        Assert.Equal(SearchSpecWriter.ToJson(spec!), SearchSpecWriter.ToJson(again!));
        Assert.Equal(spec!.Quantization, again!.Quantization);
        Assert.Equal(spec.Protocol, again.Protocol);
        Assert.Equal(spec.Datasets, again.Datasets);
        Assert.Equal(spec.Training.LearningRateMilestones, again.Training.LearningRateMilestones);
        Assert.Equal(40.5, again.MaxMilliseconds["pixel-8"]);
        Assert.Equal("int8", again.Activations!["pixel-8"]);
        Assert.Equal(-1, again.Priority);
        Assert.Equal(0.25, again.MaiConstant);
        Assert.Equal([2, 3], again.Scales);
        Assert.Equal(["local", "pixel-8"], again.Devices);
    }
}
