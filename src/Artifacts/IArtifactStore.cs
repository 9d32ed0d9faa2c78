using System.Security.Cryptography;
using SrMobile.Contracts;

namespace SrMobile.Artifacts;

/// <summary>
/// Keeps the files a trainer produces where every silo and device agent can fetch them, each recorded as an
/// <see cref="Artifact"/> with its SHA-256 so a consumer knows it got exactly what was trained.
/// </summary>
public interface IArtifactStore
{
    /// <summary>Stores <paramref name="localPath"/> under <paramref name="key"/> (a relative, '/'-separated name).</summary>
    Task<Artifact> Put(string kind, string key, string localPath, CancellationToken cancellation);

    /// <summary>
    /// A local path holding the artifact (downloaded into <paramref name="destinationFolder"/> when it is remote), its
    /// SHA-256 checked: a mismatch is an <see cref="InvalidDataException"/> naming the URI and both hashes.
    /// </summary>
    Task<string> Fetch(Artifact artifact, string destinationFolder, CancellationToken cancellation);
}

/// <summary>What both stores share: key checks, hashing and the verification of a fetched file.</summary>
public static class ArtifactFiles
{
    public static async Task<string> Sha256(string path, CancellationToken cancellation)
    {
        await using var file = File.OpenRead(path);
        return Convert.ToHexString(await SHA256.HashDataAsync(file, cancellation)).ToLowerInvariant();
    }

    /// <summary>Throws unless the file's SHA-256 is the recorded one.</summary>
    public static async Task Verify(Artifact artifact, string path, CancellationToken cancellation)
    {
        var actual = await Sha256(path, cancellation);
        if (!string.Equals(actual, artifact.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"artifact {artifact.Uri} ({artifact.Kind}): SHA-256 of the fetched file {path} is {actual}, the recorded one is {artifact.Sha256}");
    }

    /// <summary>
    /// A key is a relative '/'-separated name (e.g. <c>candidates/ab12/model.int8.onnx</c>); one that climbs out of
    /// the store ("..") or is rooted would write where it must not.
    /// </summary>
    public static string CheckKey(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        var segments = key.Replace('\\', '/').Split('/');
        if (key.StartsWith('/') || Path.IsPathRooted(key) || segments.Any(s => s is "" or "." or ".."))
            throw new ArgumentException($"artifact key '{key}' must be a relative name of '/'-separated segments without '.', '..' or empty ones", nameof(key));
        return string.Join('/', segments);
    }

    /// <summary>A file:// artifact is read where it is.</summary>
    public static bool TryLocalPath(Artifact artifact, out string path)
    {
        if (Uri.TryCreate(artifact.Uri, UriKind.Absolute, out var uri) && uri.IsFile)
        {
            path = uri.LocalPath;
            return true;
        }
        path = "";
        return false;
    }
}
