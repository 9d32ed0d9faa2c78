using SrMobile.Engine;

namespace SrMobile.Training.Data;

/// <summary>A batch of aligned patches, N×3×P×P (LR) and N×3×sP×sP (HR), float 0..255, channel-first.</summary>
public sealed record PatchBatch(long Iteration, int Count, int PatchSize, int Scale, float[] Low, float[] High);

/// <summary>
/// Random aligned crops with the 8 dihedral augmentations (h-flip, v-flip, transpose, each p = 0.5).
/// Counter-based: batch k depends only on (seed, k), so the data RNG state is the iteration itself, resume is
/// exact, and batches can be made ahead in the background in any order.
/// </summary>
public sealed class PatchSampler
{
    private readonly IReadOnlyList<TrainingPair> pairs;

    public PatchSampler(IReadOnlyList<TrainingPair> pairs, int scale, int batchSize, int patchSize, int seed, bool augment = true)
    {
        if (pairs.Count == 0)
            throw new BadInputException("training set has no images");
        if (batchSize < 1)
            throw new BadInputException($"batch_size must be at least 1, not {batchSize}");
        if (patchSize < 1)
            throw new BadInputException($"patch_size must be at least 1, not {patchSize}");
        foreach (var pair in pairs)
        {
            if (pair.Low.Width < patchSize || pair.Low.Height < patchSize)
                throw new BadInputException($"{pair.Name}: LR image {pair.Low.Width}x{pair.Low.Height} is smaller than patch_size {patchSize}");
        }
        this.pairs = pairs.Select(p => p.Low.IsGray || p.High.IsGray ? p with { Low = p.Low.ToRgb(), High = p.High.ToRgb() } : p).ToList();
        Scale = scale;
        BatchSize = batchSize;
        PatchSize = patchSize;
        Seed = seed;
        Augment = augment;
    }

    public int Scale { get; }
    public int BatchSize { get; }
    public int PatchSize { get; }
    public int Seed { get; }
    public bool Augment { get; }

    public PatchBatch Sample(long iteration)
    {
        var random = new Random(DeriveSeed(Seed, iteration));
        var p = PatchSize;
        var hp = p * Scale;
        var low = new float[BatchSize * 3 * p * p];
        var high = new float[BatchSize * 3 * hp * hp];
        for (var b = 0; b < BatchSize; b++)
        {
            var pair = pairs[random.Next(pairs.Count)];
            var x = random.Next(pair.Low.Width - p + 1);
            var y = random.Next(pair.Low.Height - p + 1);
            var transform = Augment ? random.Next(8) : 0;
            CopyPatch(pair.Low.Pixels, pair.Low.Width, x, y, p, transform, low, b * 3 * p * p);
            CopyPatch(pair.High.Pixels, pair.High.Width, x * Scale, y * Scale, hp, transform, high, b * 3 * hp * hp);
        }
        return new PatchBatch(iteration, BatchSize, p, Scale, low, high);
    }

    /// <summary>
    /// Copies a size×size RGB patch at (x0, y0) into CHW floats under dihedral transform t: bit 2 transposes,
    /// bit 0 flips horizontally, bit 1 vertically. The same t on LR and HR keeps them aligned.
    /// </summary>
    internal static void CopyPatch(byte[] source, int sourceWidth, int x0, int y0, int size, int transform, float[] target, int offset)
    {
        // The source position is affine in (i, j): s = origin + i·rowStep + j·columnStep (bytes), so the inner loop
        // only adds. Derived from (si, sj) = transpose ? (j, i) : (i, j), then the flips.
        var last = size - 1;
        var transpose = (transform & 4) != 0;
        var flipX = (transform & 1) != 0;
        var flipY = (transform & 2) != 0;
        var stride = sourceWidth * 3;
        // d(si)/di, d(si)/dj, d(sj)/di, d(sj)/dj before the flips.
        var (siI, siJ, sjI, sjJ) = transpose ? (0, 1, 1, 0) : (1, 0, 0, 1);
        var si0 = flipY ? last : 0;
        var sj0 = flipX ? last : 0;
        if (flipY)
            (siI, siJ) = (-siI, -siJ);
        if (flipX)
            (sjI, sjJ) = (-sjI, -sjJ);
        var origin = ((y0 + si0) * stride) + ((x0 + sj0) * 3);
        var rowStep = (siI * stride) + (sjI * 3);
        var columnStep = (siJ * stride) + (sjJ * 3);
        var plane = size * size;
        for (var i = 0; i < size; i++)
        {
            var s = origin + (i * rowStep);
            var t = offset + (i * size);
            for (var j = 0; j < size; j++, s += columnStep, t++)
            {
                target[t] = source[s];
                target[t + plane] = source[s + 1];
                target[t + (2 * plane)] = source[s + 2];
            }
        }
    }

    // SplitMix64 of (seed, iteration): a stable, well-mixed 32-bit seed per batch.
    private static int DeriveSeed(int seed, long iteration)
    {
        var z = unchecked(((ulong)(uint)seed << 32) ^ (ulong)iteration) + 0x9E3779B97F4A7C15UL;
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
