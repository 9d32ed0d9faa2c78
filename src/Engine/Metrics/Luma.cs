using SrMobile.Engine.Imaging;

namespace SrMobile.Engine.Metrics;

/// <summary>The Y channel the SR tables compare on (ITU-R BT.601, studio range, no rounding).</summary>
public static class Luma
{
    /// <summary>
    /// Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 for RGB; a single-channel image is taken on its raw
    /// values, with no formula (Set14 <c>bridge</c>; applying the formula to it lifts Set14 by ~0.09 dB).
    /// </summary>
    public static double[] Of(Image8 image)
    {
        var count = image.Width * image.Height;
        var y = new double[count];
        var p = image.Pixels;
        if (image.IsGray)
        {
            for (var i = 0; i < count; i++)
                y[i] = p[i];
            return y;
        }
        for (var i = 0; i < count; i++)
            y[i] = 16.0 + (((65.481 * p[3 * i]) + (128.553 * p[(3 * i) + 1]) + (24.966 * p[(3 * i) + 2])) / 255.0);
        return y;
    }
}
