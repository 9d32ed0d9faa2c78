using SrMobile.Engine.Imaging;
using SrMobile.Engine.Metrics;
using SrMobile.Tests;

namespace SrMobile.Engine.Tests;

/// <summary>The bicubic baseline must reproduce the published SR tables (benchmarks/README.md).</summary>
public class BicubicBaselineTests
{
    // Per-image bicubic PSNR (Y, shave = scale) from ../shared/data/benchmarks/README.md: x2, x3, x4.
    public static readonly Dictionary<string, double[]> Set5PerImage = new()
    {
        ["baby"] = [37.09, 33.93, 31.79],
        ["bird"] = [36.84, 32.59, 30.19],
        ["butterfly"] = [27.44, 24.04, 22.10],
        ["head"] = [34.89, 32.90, 31.62],
        ["woman"] = [32.16, 28.57, 26.47],
    };

    public static readonly Dictionary<string, double[]> Set14PerImage = new()
    {
        ["baboon"] = [24.86, 23.21, 22.44],
        ["barbara"] = [28.00, 26.25, 25.15],
        ["bridge"] = [26.57, 24.40, 23.15],
        ["coastguard"] = [29.12, 26.55, 25.47],
        ["comic"] = [26.02, 23.12, 21.69],
        ["face"] = [34.86, 32.84, 31.58],
        ["flowers"] = [30.37, 27.23, 25.52],
        ["foreman"] = [34.13, 31.15, 29.37],
        ["lenna"] = [34.71, 31.69, 29.84],
        ["man"] = [29.25, 27.01, 25.70],
        ["monarch"] = [32.95, 29.43, 27.46],
        ["pepper"] = [34.97, 32.39, 30.60],
        ["ppt3"] = [26.82, 23.66, 21.93],
        ["zebra"] = [30.66, 26.63, 24.07],
    };

    [Theory]
    [InlineData("Set5", 2, 33.66)]
    [InlineData("Set5", 3, 30.39)]
    [InlineData("Set5", 4, 28.42)]
    [InlineData("Set14", 2, 30.24)]
    [InlineData("Set14", 3, 27.55)]
    [InlineData("Set14", 4, 26.00)]
    public void Bicubic_reproduces_the_published_mean_and_per_image_table(string set, int scale, double publishedMean)
    {
        var table = set == "Set5" ? Set5PerImage : Set14PerImage;
        var scores = new List<double>();
        foreach (var path in ImageFile.ListImages(TestData.Benchmark(set)))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            var hr = ImageFile.Read(path).ModCrop(scale);
            var bicubic = MatlabResize.Upscale(MatlabResize.Downscale(hr, scale), scale);
            var psnr = EvaluationProtocol.Standard(scale).Score(bicubic, hr).Psnr;
            Assert.True(Math.Abs(psnr - table[name][scale - 2]) <= 0.02 + 0.005,
                $"{set}/{name} x{scale}: {psnr:F3} dB, table {table[name][scale - 2]:F2}");
            scores.Add(psnr);
        }
        Assert.Equal(table.Count, scores.Count);
        Assert.InRange(scores.Average(), publishedMean - 0.03, publishedMean + 0.03);
    }

    [Fact]
    public void Bicubic_ssim_on_Set5_x3_matches_the_published_value()
    {
        // Published bicubic SSIM for Set5 x3 (Y): 0.8682 (MATLAB ssim, as in the SR literature's tables).
        var scores = ImageFile.ListImages(TestData.Benchmark("Set5")).Select(path =>
        {
            var hr = ImageFile.Read(path).ModCrop(3);
            var bicubic = MatlabResize.Upscale(MatlabResize.Downscale(hr, 3), 3);
            return EvaluationProtocol.Standard(3).Score(bicubic, hr).Ssim;
        }).ToList();
        Assert.InRange(scores.Average(), 0.8682 - 0.003, 0.8682 + 0.003);
    }

    [Fact]
    public void Gray_bridge_stays_single_channel()
    {
        var bridge = ImageFile.Read(Path.Combine(TestData.Benchmark("Set14"), "bridge.png"));
        Assert.Equal(1, bridge.Channels);
        var man = ImageFile.Read(Path.Combine(TestData.Benchmark("Set14"), "man.png"));
        Assert.Equal(3, man.Channels);
    }
}
