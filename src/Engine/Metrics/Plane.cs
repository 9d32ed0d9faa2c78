namespace SrMobile.Engine.Metrics;

/// <summary>One channel of an image as doubles, row-major.</summary>
public sealed record Plane(int Width, int Height, double[] Values)
{
    /// <summary>The plane without <paramref name="border"/> pixels on every side.</summary>
    public Plane Shave(int border)
    {
        if (border == 0)
            return this;
        var width = Width - (2 * border);
        var height = Height - (2 * border);
        if (width < 1 || height < 1)
            throw new ArgumentOutOfRangeException(nameof(border), $"shaving {border} px leaves nothing of a {Width}x{Height} image");
        var values = new double[width * height];
        for (var y = 0; y < height; y++)
            Array.Copy(Values, ((y + border) * Width) + border, values, y * width, width);
        return new Plane(width, height, values);
    }
}
