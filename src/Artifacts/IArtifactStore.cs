using System.Security.Cryptography;
using System.Text.RegularExpressions;
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
public static partial class ArtifactFiles
{
    /// <summary>Azure's limit on a blob name; a local key becomes a path and stays well inside PATH_MAX with it.</summary>
    public const int MaxKeyLength = 1024;

    /// <summary>Azure's limit on a blob name's '/'-separated segments.</summary>
    public const int MaxSegments = 254;

    /// <summary>The longest file name the local file systems take.</summary>
    public const int MaxSegmentLength = 255;

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
    /// A key (a blob name, or a path under the local store's root) is a relative '/'-separated name (e.g.
    /// <c>candidates/ab12/model.int8.onnx</c>): one that climbs out of the store (".."), is rooted, or holds a
    /// backslash (a separator on Windows) would write where it must not; control characters, spaces and the like
    /// have no place in the names the trainers make, and would be read differently by a blob service and a disk.
    /// </summary>
    public static string CheckKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var problem = key.Length == 0 ? "is empty"
            : key.Length > MaxKeyLength ? $"is {key.Length} characters long; the limit is {MaxKeyLength}"
            : key.Contains('\\') ? "holds a backslash"
            : key.StartsWith('/') || Path.IsPathRooted(key) ? "is rooted"
            : KeyProblem(key.Split('/'));
        if (problem is not null)
            throw new ArgumentException($"artifact key '{(key.Length > 100 ? key[..100] + "…" : key)}' {problem}: it must be a relative name of '/'-separated segments of A-Z, a-z, 0-9 and . _ - + = @ , ~, without '.', '..' or empty segments", nameof(key));
        return key;
    }

    private static string? KeyProblem(string[] segments)
    {
        if (segments.Length > MaxSegments)
            return $"has {segments.Length} segments; the limit is {MaxSegments}";
        foreach (var segment in segments)
        {
            if (segment is "" or "." or "..")
                return segment.Length == 0 ? "has an empty segment" : $"has a '{segment}' segment";
            if (segment.Length > MaxSegmentLength)
                return $"has a segment of {segment.Length} characters; the limit is {MaxSegmentLength}";
            if (!SegmentPattern().IsMatch(segment))
                return $"has a character outside the allowed set in '{segment}'";
        }
        return null;
    }

    [GeneratedRegex("^[A-Za-z0-9._~+=@,-]+$")]
    private static partial Regex SegmentPattern();

    /// <summary>
    /// The local path of a file:// artifact, which must lie under <paramref name="root"/> (after
    /// <see cref="Path.GetFullPath(string)"/>): an artifact record is data from the cluster's state, and one pointing
    /// at <c>file:///etc/shadow</c> must not be read, hashed or handed to an engine.
    /// </summary>
    public static string LocalPathUnder(Artifact artifact, string root)
    {
        if (!TryLocalPath(artifact, out var path))
            throw new ArgumentException($"artifact {artifact.Uri} ({artifact.Kind}) is not a file:// URI", nameof(artifact));
        var full = Path.GetFullPath(path);
        var inside = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(inside, StringComparison.Ordinal))
            throw new ArgumentException($"artifact {artifact.Uri} ({artifact.Kind}) is outside the artifact root {root}", nameof(artifact));
        return full;
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
