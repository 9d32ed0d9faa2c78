using SrMobile.Engine.Models;
using SrMobile.Tests;

namespace SrMobile.Engine.Tests;

public class AbpnCheckpointTests
{
    private static AbpnCheckpoint Sample(AbpnArchitecture architecture)
    {
        var random = new Random(3);
        var tensors = new List<NamedTensor>();
        for (var i = 0; i < architecture.ConvolutionCount; i++)
        {
            var (output, input) = architecture.ConvolutionChannels(i);
            tensors.Add(new NamedTensor(AbpnCheckpoint.WeightName(i), [output, input, 3, 3], Enumerable.Range(0, output * input * 9).Select(_ => (float)random.NextDouble()).ToArray()));
            tensors.Add(new NamedTensor(AbpnCheckpoint.BiasName(i), [output], Enumerable.Range(0, output).Select(_ => (float)random.NextDouble()).ToArray()));
        }
        var metadata = new CheckpointMetadata { Scale = architecture.Scale, Depth = architecture.Depth, Width = architecture.Width, InputScale = 1 / 255.0, ResidualScale = 255, Iteration = 42 };
        return new AbpnCheckpoint(metadata, tensors, [1, 2, 3]);
    }

    [Fact]
    public void Round_trips_tensors_metadata_and_optimizer_state()
    {
        using var work = TestData.NewTemporaryFolder();
        var checkpoint = Sample(new AbpnArchitecture(2, 2, 5));
        checkpoint.Save(work.File("a.ckpt"));
        var loaded = AbpnCheckpoint.Load(work.File("a.ckpt"));
        Assert.Equal(checkpoint.Architecture, loaded.Architecture);
        Assert.Equal(42, loaded.Metadata.Iteration);
        Assert.Equal(new byte[] { 1, 2, 3 }, loaded.OptimizerState);
        foreach (var tensor in checkpoint.Parameters)
            Assert.Equal(tensor.Values, loaded[tensor.Name].Values);
        Assert.Empty(Directory.GetFiles(work.Path, "*.tmp"));
    }

    [Fact]
    public void Seed_weights_fold_the_scales_into_the_first_and_last_convolution()
    {
        var checkpoint = Sample(new AbpnArchitecture(3, 2, 4));
        var folded = checkpoint.SeedWeights();
        var last = checkpoint.Architecture.ConvolutionCount - 1;
        Assert.Equal(checkpoint[AbpnCheckpoint.WeightName(0)].Values[5] / 255f, folded.Single(t => t.Name == AbpnCheckpoint.WeightName(0)).Values[5], 6);
        Assert.Equal(checkpoint[AbpnCheckpoint.BiasName(0)].Values, folded.Single(t => t.Name == AbpnCheckpoint.BiasName(0)).Values);
        Assert.Equal(checkpoint[AbpnCheckpoint.BiasName(last)].Values[1] * 255f, folded.Single(t => t.Name == AbpnCheckpoint.BiasName(last)).Values[1], 3);
        Assert.Equal(checkpoint[AbpnCheckpoint.WeightName(1)].Values, folded.Single(t => t.Name == AbpnCheckpoint.WeightName(1)).Values);
    }

    [Fact]
    public void Any_flipped_byte_or_cut_is_detected_and_names_the_file()
    {
        using var work = TestData.NewTemporaryFolder();
        Sample(new AbpnArchitecture(3, 1, 3)).Save(work.File("a.ckpt"));
        var bytes = File.ReadAllBytes(work.File("a.ckpt"));
        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(work.File("flipped.ckpt"), flipped);
        File.WriteAllBytes(work.File("cut.ckpt"), bytes[..(bytes.Length - 100)]);
        foreach (var name in new[] { "flipped.ckpt", "cut.ckpt" })
        {
            var error = Assert.Throws<BadInputException>(() => AbpnCheckpoint.Load(work.File(name)));
            Assert.Contains(work.File(name), error.Message);
        }
    }

    [Fact]
    public void A_checkpoint_with_wrong_shapes_is_refused()
    {
        var checkpoint = Sample(new AbpnArchitecture(3, 2, 4));
        var wrong = checkpoint with { Metadata = checkpoint.Metadata with { Width = 5 } };
        var error = Assert.Throws<BadInputException>(() => wrong.CheckShapes("x.ckpt"));
        Assert.Contains("conv.0.weight", error.Message);
    }
}
