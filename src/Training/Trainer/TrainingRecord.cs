using System.Globalization;

namespace SrMobile.Training.Trainer;

/// <summary>The CSV record of a run: one row per logged window of steps and per validation.</summary>
public sealed class TrainingRecord
{
    public const string Header = "iteration,epoch,elapsed_s,loss,lr,psnr_y,ssim_y,psnr_rgb,ssim_rgb";

    private readonly string path;

    public TrainingRecord(string path, long resumeFrom)
    {
        this.path = path;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path))
        {
            File.WriteAllText(path, Header + "\n");
            return;
        }
        // Rows written after the checkpoint we resume from describe steps that will be redone: drop them.
        var kept = File.ReadAllLines(path)
            .Where((line, index) => index == 0 || (long.TryParse(line.Split(',')[0], CultureInfo.InvariantCulture, out var iteration) && iteration <= resumeFrom))
            .ToList();
        if (kept.Count == 0 || kept[0] != Header)
            kept.Insert(0, Header);
        File.WriteAllLines(path, kept);
    }

    public void Append(long iteration, int epoch, double elapsedSeconds, double? loss, double learningRate, IReadOnlyDictionary<string, double>? metrics)
    {
        string Format(double? value) => value is { } v ? v.ToString("G6", CultureInfo.InvariantCulture) : "";
        var row = string.Join(',',
            iteration.ToString(CultureInfo.InvariantCulture),
            epoch.ToString(CultureInfo.InvariantCulture),
            elapsedSeconds.ToString("F1", CultureInfo.InvariantCulture),
            Format(loss),
            learningRate.ToString("G6", CultureInfo.InvariantCulture),
            Format(metrics?.GetValueOrDefault(Metrics.PsnrY)),
            Format(metrics?.GetValueOrDefault(Metrics.SsimY)),
            Format(metrics?.GetValueOrDefault(Metrics.PsnrRgb)),
            Format(metrics?.GetValueOrDefault(Metrics.SsimRgb)));
        File.AppendAllText(path, row + "\n");
    }
}
