namespace SrMobile.Engine;

/// <summary>Reads a user-named file, turning I/O failures into a <see cref="BadInputException"/> that names it.</summary>
public static class InputFile
{
    public static byte[] ReadBytes(string path, string what) => Read(path, what, File.ReadAllBytes);

    public static string ReadText(string path, string what) => Read(path, what, File.ReadAllText);

    private static T Read<T>(string path, string what, Func<string, T> read)
    {
        try
        {
            return read(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"{path}: cannot read {what}: {e.Message}", e);
        }
    }
}
