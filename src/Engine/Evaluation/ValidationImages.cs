using System.IO.Compression;
using SrMobile.Engine.Imaging;

namespace SrMobile.Engine.Evaluation;

/// <summary>
/// A search's validation images as one file, so a device that cannot see the trainer's folders (a board on a lab
/// network) scores its own int8 output on exactly the trainer's images. The archive is byte-for-byte the same for the
/// same images (sorted entries, a fixed timestamp), so its SHA-256 names the set.
/// </summary>
public static class ValidationImages
{
    private static readonly DateTimeOffset Timestamp = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Packs the images of <paramref name="folder"/> (<see cref="ImageFile.ListImages"/>) into <paramref name="archive"/>.</summary>
    public static void Pack(string folder, string archive)
    {
        var images = ImageFile.ListImages(folder);
        if (images.Count == 0)
            throw new BadInputException($"{folder}: dataset folder has no PNG, JPEG, BMP or WebP images");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(archive))!);
        var partial = archive + ".part";
        using (var zip = ZipFile.Open(partial, ZipArchiveMode.Create))
        {
            foreach (var image in images.OrderBy(Path.GetFileName, StringComparer.Ordinal))
            {
                // Images are compressed already.
                var entry = zip.CreateEntry(Path.GetFileName(image), CompressionLevel.NoCompression);
                entry.LastWriteTime = Timestamp;
                using var source = File.OpenRead(image);
                using var target = entry.Open();
                source.CopyTo(target);
            }
        }
        File.Move(partial, archive, overwrite: true);
    }

    /// <summary>The folder of <paramref name="archive"/>'s images under <paramref name="parent"/>, unpacked once (by <paramref name="sha256"/>).</summary>
    public static string Unpack(string archive, string sha256, string parent)
    {
        var folder = Path.Combine(parent, $"validation-{sha256[..16]}");
        if (Directory.Exists(folder))
            return folder;
        var partial = folder + ".part";
        if (Directory.Exists(partial))
            Directory.Delete(partial, recursive: true);
        try
        {
            // ExtractToDirectory refuses entries that would land outside the folder.
            ZipFile.ExtractToDirectory(archive, partial);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{archive}: not a validation image archive ({e.Message})", e);
        }
        Directory.Move(partial, folder);
        return folder;
    }
}
