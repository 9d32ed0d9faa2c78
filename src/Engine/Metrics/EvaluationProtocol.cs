using SrMobile.Engine.Imaging;

namespace SrMobile.Engine.Metrics;

/// <summary>Which numbers a PSNR/SSIM is: the SR tables' (Y, shave = scale) or the seed's (RGB, 1-px border).</summary>
public enum ProtocolKind
{
    /// <summary>Y channel (BT.601), shave = scale pixels: Set5, Set14, B100, Urban100, Manga109 tables.</summary>
    Y,

    /// <summary>The seed's DIV2K validation: all RGB channels, 1 pixel cropped on every border.</summary>
    Rgb,
}

public sealed record ImageScore(double Psnr, double Ssim);

/// <summary>
/// Scores an SR image against its HR image. Both are 8-bit (the SR output is rounded and clipped to 0..255
/// before it is scored, as saving it would), so both protocols start from the same pixels.
/// </summary>
public sealed record EvaluationProtocol(ProtocolKind Kind, int Shave)
{
    public static EvaluationProtocol Standard(int scale) => new(ProtocolKind.Y, scale);

    public static EvaluationProtocol Seed { get; } = new(ProtocolKind.Rgb, 1);

    public static EvaluationProtocol For(ProtocolKind kind, int scale) => kind == ProtocolKind.Y ? Standard(scale) : Seed;

    public string Name => Kind == ProtocolKind.Y ? "y" : "rgb";

    public ImageScore Score(Image8 superResolved, Image8 highResolution)
    {
        if (superResolved.Width != highResolution.Width || superResolved.Height != highResolution.Height)
            throw new ArgumentException($"SR image {superResolved} does not match HR image {highResolution}");
        if (Kind == ProtocolKind.Y)
        {
            var sr = new Plane(superResolved.Width, superResolved.Height, Luma.Of(superResolved)).Shave(Shave);
            var hr = new Plane(highResolution.Width, highResolution.Height, Luma.Of(highResolution)).Shave(Shave);
            return new ImageScore(Psnr.Of(sr, hr), Ssim.Of(sr, hr));
        }

        // RGB: MSE pooled over all channels (the seed's PSNR); SSIM is the mean of the per-channel SSIMs, as
        // BasicSR does for colour images (the seed reports no SSIM). A gray HR is compared as three equal channels.
        var srPlanes = Channels(superResolved.ToRgb());
        var hrPlanes = Channels(highResolution.ToRgb());
        double squared = 0;
        double ssim = 0;
        var count = 0;
        for (var c = 0; c < 3; c++)
        {
            var a = srPlanes[c].Shave(Shave);
            var b = hrPlanes[c].Shave(Shave);
            squared += Psnr.MeanSquaredError(a.Values, b.Values) * a.Values.Length;
            count += a.Values.Length;
            ssim += Ssim.Of(a, b);
        }
        return new ImageScore(Psnr.FromMse(squared / count), ssim / 3);
    }

    private static Plane[] Channels(Image8 rgb)
    {
        var count = rgb.Width * rgb.Height;
        var planes = new Plane[3];
        for (var c = 0; c < 3; c++)
        {
            var values = new double[count];
            for (var i = 0; i < count; i++)
                values[i] = rgb.Pixels[(3 * i) + c];
            planes[c] = new Plane(rgb.Width, rgb.Height, values);
        }
        return planes;
    }
}
