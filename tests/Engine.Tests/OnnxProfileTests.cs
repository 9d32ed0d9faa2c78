using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;
using SrMobile.Tests;

namespace SrMobile.Engine.Tests;

public class OnnxProfileTests
{
    [Theory]
    [InlineData("int8", ActivationType.UInt8)]
    [InlineData("int8", ActivationType.Int8)]
    [InlineData("float", ActivationType.UInt8)]
    public void A_profile_sums_the_kept_runs_per_operator_and_node_and_counts_every_convolutions_multiply_adds(string kind, ActivationType activations)
    {
        using var work = TestData.NewTemporaryFolder();
        var architecture = new AbpnArchitecture(3, 2, 8);
        var weights = SrEngineTests.ZeroWeights(architecture);
        var ranges = Enumerable.Repeat(new TensorRange(0, 1), architecture.ConvolutionCount).ToList();
        var model = work.File($"{kind}.onnx");
        AbpnOnnxWriter.Save(kind == "int8" ? AbpnOnnxWriter.Int8(architecture, weights, ranges, activations) : AbpnOnnxWriter.Float(architecture, weights), model);

        string file;
        using (var engine = SrEngine.Load(model, new EngineOptions { ProfilePrefix = work.File("profile") }))
        {
            for (var run = 0; run < 5; run++)
                engine.RunBlank(24, 16);
            file = engine.EndProfiling();
        }
        Assert.StartsWith(work.File("profile"), Path.GetFullPath(file), StringComparison.Ordinal);
        var profile = OnnxProfile.Read(file, 3, OnnxProfile.ConvolutionKernels(model), 24 * 16);

        Assert.Equal(3, profile.Runs);
        Assert.Equal(1.0, profile.Operators.Sum(o => o.Share), 6);
        Assert.Equal(profile.Nodes.Sum(n => n.MillisecondsPerRun), profile.NodeMillisecondsPerRun, 6);
        var convolutions = profile.Nodes.Where(n => n.GigaMacs is not null).ToList();
        Assert.Equal(architecture.ConvolutionCount, convolutions.Count);
        Assert.Equal(architecture.MacsPerPixel * 24 * 16 / 1e9, convolutions.Sum(n => n.GigaMacs!.Value), 9);
        Assert.All(convolutions, n => Assert.True(n.GmacPerSecond > 0, n.Node));
    }

    [Fact]
    public void A_profile_with_fewer_runs_than_asked_is_refused_naming_the_file()
    {
        using var work = TestData.NewTemporaryFolder();
        var path = work.File("empty.json");
        File.WriteAllText(path, "[]");
        var error = Assert.Throws<BadInputException>(() => OnnxProfile.Read(path, 1, new Dictionary<string, long>(), 1));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }
}
