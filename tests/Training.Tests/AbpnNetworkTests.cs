using SrMobile.Engine.Models;
using SrMobile.Training.Network;
using static TorchSharp.torch;

namespace SrMobile.Training.Tests;

public class AbpnNetworkTests
{
    [Theory]
    [InlineData(3, 4, 28, 42_539)]
    [InlineData(3, 4, 16, 20_231)]
    [InlineData(3, 4, 32, 52_279)]
    [InlineData(3, 4, 48, 102_759)]
    [InlineData(2, 1, 1, 0)]
    [InlineData(4, 7, 12, 0)]
    public void Parameter_count_equals_the_formula(int scale, int depth, int width, long published)
    {
        var architecture = new AbpnArchitecture(scale, depth, width);
        using var network = new AbpnNetwork(architecture);
        Assert.Equal(architecture.ParameterCount, network.ParameterCount());
        if (published != 0)
            Assert.Equal(published, architecture.ParameterCount);
    }

    [Fact]
    public void Untrained_network_is_exactly_the_anchor()
    {
        using var network = new AbpnNetwork(new AbpnArchitecture(3, 2, 8));
        using var scope = NewDisposeScope();
        var input = randint(0, 256, [1, 3, 6, 5]).to(float32);
        var expected = input.repeat_interleave(3, dim: 2).repeat_interleave(3, dim: 3);
        Assert.True(network.forward(input).eq(expected).all().item<bool>());
    }

    [Fact]
    public void Default_point_has_42345_macs_per_pixel()
    {
        Assert.Equal(42_345, AbpnArchitecture.Seed.MacsPerPixel);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void All_zero_weights_give_exactly_nearest_neighbour(int scale)
    {
        using var network = new AbpnNetwork(new AbpnArchitecture(scale, 2, 8));
        using (no_grad())
        {
            foreach (var parameter in network.parameters())
                parameter.zero_();
        }
        using var scope = NewDisposeScope();
        var input = randint(0, 256, [1, 3, 5, 7]).to(float32);
        var output = network.forward(input);
        // Nearest neighbour: out[c, y, x] = in[c, y / s, x / s].
        var expected = input.repeat_interleave(scale, dim: 2).repeat_interleave(scale, dim: 3);
        Assert.Equal(new long[] { 1, 3, 5 * scale, 7 * scale }, output.shape);
        Assert.True(output.eq(expected).all().item<bool>());
    }

    [Theory]
    [InlineData(2, 1, 5)]
    [InlineData(3, 11, 13)]
    [InlineData(4, 7, 3)]
    public void Output_shape_and_clip_hold_for_odd_sizes(int scale, int height, int width)
    {
        using var network = new AbpnNetwork(new AbpnArchitecture(scale, 2, 6));
        using (no_grad())
        {
            // Large weights push outputs far outside 0..255 unless the final clip holds.
            foreach (var parameter in network.parameters())
                parameter.copy_(randn_like(parameter) * 5);
        }
        using var scope = NewDisposeScope();
        var output = network.forward(rand(2, 3, height, width) * 255);
        Assert.Equal(new long[] { 2, 3, height * scale, width * scale }, output.shape);
        Assert.True(output.min().item<float>() >= 0);
        Assert.True(output.max().item<float>() <= 255);
        Assert.True(output.eq(0).any().item<bool>() || output.eq(255).any().item<bool>(), "the clip was never exercised");
    }

    [Fact]
    public void Folded_seed_weights_give_the_same_output_on_raw_input()
    {
        var architecture = new AbpnArchitecture(3, 2, 8);
        using var trained = new AbpnNetwork(architecture, inputScale: 1 / 255.0, residualScale: 255);
        using (no_grad())
        {
            // Non-zero last conv, so the residual path (and its scale) matters.
            foreach (var parameter in trained.parameters())
                parameter.add_(rand_like(parameter) * 0.01);
        }
        var checkpoint = new AbpnCheckpoint(trained.DescribeCheckpoint(0, null), trained.ExportParameters());
        // The seed network proper: no scales, raw 0..255 into the first conv.
        using var seed = new AbpnNetwork(architecture, inputScale: 1, residualScale: 1);
        seed.ImportParameters(checkpoint.SeedWeights());
        using var scope = NewDisposeScope();
        var input = rand(1, 3, 9, 10) * 255;
        var difference = (trained.forward(input) - seed.forward(input)).abs().max().item<float>();
        Assert.True(difference < 1e-3f, $"max |difference| {difference}");
    }
}
