using System.Text.Json.Serialization;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Metrics;

namespace SrMobile.Engine.Evaluation;

public sealed record ImageResult(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("psnr")] double Psnr,
    [property: JsonPropertyName("ssim")] double Ssim);

public sealed record MeanResult(
    [property: JsonPropertyName("psnr")] double Psnr,
    [property: JsonPropertyName("ssim")] double Ssim);

/// <summary>Per-image scores of one method on one dataset, and their mean (of per-image values, never pooled).</summary>
public sealed record MethodReport(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("images")] IReadOnlyList<ImageResult> Images)
{
    [JsonPropertyName("mean")]
    public MeanResult Mean => new(Images.Average(i => i.Psnr), Images.Average(i => i.Ssim));
}

/// <summary>
/// The benchmark protocol: HR modcropped to the scale, LR = MATLAB bicubic of HR, SR scored against HR, with the
/// bicubic baseline alongside.
/// </summary>
public sealed record DatasetReport(
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("scale")] int Scale,
    [property: JsonPropertyName("protocol")] string Protocol,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("images")] IReadOnlyList<ImageResult> Images,
    [property: JsonPropertyName("bicubic")] MethodReport? Bicubic)
{
    [JsonPropertyName("mean")]
    public MeanResult Mean => new(Images.Average(i => i.Psnr), Images.Average(i => i.Ssim));
}

public static class DatasetEvaluation
{
    public const string BicubicMethod = "bicubic";

    /// <summary>
    /// Scores <paramref name="upscale"/> (null = bicubic itself) on every HR image of <paramref name="folder"/>.
    /// SR images are written as PNG to <paramref name="outputFolder"/> when given.
    /// </summary>
    public static DatasetReport Run(string folder, int scale, ProtocolKind protocol, string method, Func<Image8, Image8>? upscale,
        string? outputFolder = null, IProgress<(int Done, int Total, string Name)>? progress = null)
    {
        if (!Models.AbpnArchitecture.SupportedScales.Contains(scale))
            throw new BadInputException($"--scale must be 2, 3 or 4, not {scale}");
        var files = ImageFile.ListImages(folder);
        if (files.Count == 0)
            throw new BadInputException($"{folder}: dataset folder has no PNG, JPEG, BMP or WebP images");
        var rule = EvaluationProtocol.For(protocol, scale);
        var results = new List<ImageResult>();
        var bicubicResults = new List<ImageResult>();
        for (var i = 0; i < files.Count; i++)
        {
            var name = Path.GetFileNameWithoutExtension(files[i]);
            progress?.Report((i, files.Count, name));
            var high = ImageFile.Read(files[i]);
            if (high.Width < scale * 4 || high.Height < scale * 4)
                throw new BadInputException($"{files[i]}: {high.Width}x{high.Height} is too small to test at scale {scale}");
            high = high.ModCrop(scale);
            var low = MatlabResize.Downscale(high, scale);
            var bicubic = MatlabResize.Upscale(low, scale);
            var bicubicScore = rule.Score(bicubic, high);
            bicubicResults.Add(new ImageResult(name, bicubicScore.Psnr, bicubicScore.Ssim));
            var superResolved = upscale is null ? bicubic : upscale(low);
            var score = upscale is null ? bicubicScore : rule.Score(superResolved, high);
            results.Add(new ImageResult(name, score.Psnr, score.Ssim));
            if (outputFolder is not null)
                ImageFile.WritePng(superResolved, Path.Combine(outputFolder, $"{name}_x{scale}_{method}.png"));
        }
        progress?.Report((files.Count, files.Count, ""));
        var dataset = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        return new DatasetReport(dataset, scale, rule.Name, method, results,
            upscale is null ? null : new MethodReport(BicubicMethod, bicubicResults));
    }
}
