using System.Collections.Concurrent;
using System.Security.Cryptography;
using SrMobile.Engine;
using SrMobile.Engine.Imaging;

namespace SrMobile.Training.Data;

/// <summary>
/// Decodes a dataset into memory as aligned pairs (gray images stay gray, so validation scores them on raw values
/// as the SR tables do; the patch sampler makes them RGB for training), checking every pair against the scale. LR images made from
/// HR-only folders are cached as PNG under <see cref="CacheFolder"/>, keyed by the HR file's SHA-256 and the scale.
/// </summary>
public sealed class DatasetLoader(string cacheFolder)
{
    public string CacheFolder { get; } = cacheFolder;

    public IReadOnlyList<TrainingPair> Load(DatasetSource source, int scale, IProgress<(int Done, int Total)>? progress = null)
    {
        var files = source switch
        {
            Div2kSource div2k => Div2kFiles(div2k, scale),
            PairedFolderSource paired => PairedFiles(paired, scale),
            HighOnlyFolderSource highOnly => NonEmpty(ImageFile.ListImages(highOnly.HighFolder), highOnly.HighFolder)
                .Select(hr => (Name: Path.GetFileNameWithoutExtension(hr), Low: (string?)null, High: hr)).ToList(),
            _ => throw new ArgumentOutOfRangeException(nameof(source), source, "unknown dataset source"),
        };

        var pairs = new TrainingPair[files.Count];
        var done = 0;
        var errors = new ConcurrentBag<BadInputException>();
        Parallel.For(0, files.Count, i =>
        {
            try
            {
                var (name, low, high) = files[i];
                pairs[i] = low is null ? FromHigh(name, high, scale) : FromPair(name, low, high, scale);
            }
            catch (BadInputException e)
            {
                errors.Add(e);
            }
            progress?.Report((Interlocked.Increment(ref done), files.Count));
        });
        if (!errors.IsEmpty)
            throw errors.OrderBy(e => e.Message, StringComparer.Ordinal).First();
        return pairs;
    }

    private static IReadOnlyList<string> NonEmpty(IReadOnlyList<string> images, string folder) =>
        images.Count > 0 ? images : throw new BadInputException($"{folder}: folder has no PNG, JPEG, BMP or WebP images");

    private static List<(string Name, string? Low, string High)> Div2kFiles(Div2kSource source, int scale)
    {
        if (source.First < 1 || source.Last < source.First)
            throw new BadInputException($"{source.Root}: DIV2K range {source.First}-{source.Last} is empty");
        var highFolder = Path.Combine(source.Root, source.HighFolder);
        var lowFolder = Path.Combine(source.Root, source.LowFolder, $"X{scale}");
        foreach (var folder in new[] { highFolder, lowFolder })
        {
            if (!Directory.Exists(folder))
                throw new BadInputException($"{folder}: DIV2K folder does not exist (expected the layout {source.HighFolder}/NNNN.png, {source.LowFolder}/X{scale}/NNNNx{scale}.png)");
        }
        var result = new List<(string, string?, string)>();
        for (var index = source.First; index <= source.Last; index++)
        {
            var name = index.ToString("D4");
            var high = Path.Combine(highFolder, $"{name}.png");
            var low = Path.Combine(lowFolder, $"{name}x{scale}.png");
            if (!File.Exists(high))
                throw new BadInputException($"{high}: DIV2K HR image is missing");
            if (!File.Exists(low))
                throw new BadInputException($"{low}: DIV2K LR image is missing");
            result.Add((name, low, high));
        }
        return result;
    }

    private static List<(string Name, string? Low, string High)> PairedFiles(PairedFolderSource source, int scale)
    {
        var highs = NonEmpty(ImageFile.ListImages(source.HighFolder), source.HighFolder);
        var lows = ImageFile.ListImages(source.LowFolder)
            .ToLookup(path => Path.GetFileNameWithoutExtension(path), StringComparer.Ordinal);
        return highs.Select(high =>
        {
            var name = Path.GetFileNameWithoutExtension(high);
            var low = lows[name].Concat(lows[$"{name}x{scale}"]).FirstOrDefault()
                ?? throw new BadInputException($"{high}: no LR image {name}.* or {name}x{scale}.* in {source.LowFolder}");
            return (name, (string?)low, high);
        }).ToList();
    }

    private static TrainingPair FromPair(string name, string lowPath, string highPath, int scale)
    {
        var low = ImageFile.Read(lowPath);
        var high = ImageFile.Read(highPath);
        if (low.Channels != high.Channels)
            (low, high) = (low.ToRgb(), high.ToRgb());
        // MATLAB's imresize makes ceil(HR/s); accept any LR within one LR pixel of HR/s and keep the aligned part.
        if (Math.Abs((low.Width * scale) - high.Width) >= scale || Math.Abs((low.Height * scale) - high.Height) >= scale)
            throw new BadInputException($"{lowPath}: LR {low.Width}x{low.Height} does not match HR {highPath} {high.Width}x{high.Height} at scale {scale}");
        var width = Math.Min(low.Width, high.Width / scale);
        var height = Math.Min(low.Height, high.Height / scale);
        if (width < 1 || height < 1)
            throw new BadInputException($"{highPath}: HR {high.Width}x{high.Height} is smaller than scale {scale}");
        return new TrainingPair(name,
            width == low.Width && height == low.Height ? low : low.Crop(0, 0, width, height),
            high.Crop(0, 0, width * scale, height * scale));
    }

    private TrainingPair FromHigh(string name, string highPath, int scale)
    {
        var encoded = InputFile.ReadBytes(highPath, "image file");
        var high = ImageFile.Decode(encoded, highPath);
        if (high.Width < scale || high.Height < scale)
            throw new BadInputException($"{highPath}: HR {high.Width}x{high.Height} is smaller than scale {scale}");
        high = high.ModCrop(scale);

        var key = Convert.ToHexString(SHA256.HashData(encoded))[..24].ToLowerInvariant();
        var cached = Path.Combine(CacheFolder, "lr-bicubic", $"X{scale}", $"{key}.png");
        if (File.Exists(cached))
        {
            try
            {
                var low = ImageFile.Read(cached);
                if (low.Width * scale == high.Width && low.Height * scale == high.Height && low.Channels == high.Channels)
                    return new TrainingPair(name, low, high);
            }
            catch (BadInputException)
            {
                // A damaged cache entry is rebuilt below; the cache is never the source of truth.
            }
        }
        var made = MatlabResize.Downscale(high, scale);
        ImageFile.WritePng(made, cached);
        return new TrainingPair(name, made, high);
    }
}
