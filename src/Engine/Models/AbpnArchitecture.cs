namespace SrMobile.Engine.Models;

/// <summary>
/// One point of the ABPN family (anchor-based plain net, SEED-METHOD.md): m+3 3×3 convolutions of width C,
/// ReLU after all but the last, the anchor (input repeated s² times, CRD order) added, depth-to-space, clip.
/// </summary>
public sealed record AbpnArchitecture(int Scale, int Depth, int Width)
{
    public const string Family = "abpn";

    public static readonly int[] SupportedScales = [2, 3, 4];

    /// <summary>The seed's challenge model: ×3, m = 4, C = 28 (42,539 parameters).</summary>
    public static AbpnArchitecture Seed { get; } = new(3, 4, 28);

    /// <summary>Channels before depth-to-space: 3·s².</summary>
    public int ImageChannels => 3 * Scale * Scale;

    /// <summary>m + 3 convolutions: first, m body, to-image, the extra image-space conv.</summary>
    public int ConvolutionCount => Depth + 3;

    /// <summary>P = 28C + m(9C² + C) + (9·C·3s² + 3s²) + (9·(3s²)² + 3s²).</summary>
    public long ParameterCount
    {
        get
        {
            long c = Width;
            long k = ImageChannels;
            return (28 * c) + (Depth * ((9 * c * c) + c)) + ((9 * c * k) + k) + ((9 * k * k) + k);
        }
    }

    /// <summary>Multiply-accumulates per LR pixel (3×3 convolutions only).</summary>
    public long MacsPerPixel => (ParameterCount - BiasCount);

    private long BiasCount => Width + ((long)Depth * Width) + (2L * ImageChannels);

    /// <summary>(out, in) channels of convolution <paramref name="index"/>.</summary>
    public (int Out, int In) ConvolutionChannels(int index)
    {
        if (index < 0 || index >= ConvolutionCount)
            throw new ArgumentOutOfRangeException(nameof(index), $"ABPN m={Depth} has convolutions 0..{ConvolutionCount - 1}, not {index}");
        if (index == 0)
            return (Width, 3);
        if (index <= Depth)
            return (Width, Width);
        if (index == Depth + 1)
            return (ImageChannels, Width);
        return (ImageChannels, ImageChannels);
    }

    /// <summary>Throws a <see cref="BadInputException"/> naming the field when the point is outside the family.</summary>
    public AbpnArchitecture Validate(string source = "network")
    {
        if (!SupportedScales.Contains(Scale))
            throw new BadInputException($"{source}: scale must be 2, 3 or 4, not {Scale}");
        if (Depth < 1)
            throw new BadInputException($"{source}: depth must be at least 1, not {Depth}");
        if (Width < 1)
            throw new BadInputException($"{source}: width must be at least 1, not {Width}");
        return this;
    }

    public override string ToString() => $"ABPN x{Scale} m{Depth} C{Width}";
}
