namespace SrMobile.Contracts;

/// <summary>
/// The folders a spec's datasets may name (configuration <c>SrMobile:DataRoots</c>, a list; none configured means
/// the process's working folder). A spec is text from whoever can reach the gateway, and the trainers read what it
/// names: without roots, <c>datasets.train: /home/someone/.ssh</c> would be read and copied into crops and caches.
/// Paths are compared after <see cref="Path.GetFullPath(string)"/>, so <c>..</c> cannot climb out; relative paths are
/// taken from the working folder, as the trainers take them. Symbolic links inside a root are not followed here.
/// </summary>
public sealed class DataRoots
{
    public const string Section = "SrMobile:DataRoots";

    private static readonly StringComparison PathComparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    public DataRoots(IEnumerable<string> roots)
    {
        var full = roots.Where(r => !string.IsNullOrWhiteSpace(r)).Select(Normalize).Distinct(StringComparer.FromComparison(PathComparison)).ToList();
        Roots = full.Count > 0 ? full : [Normalize(Environment.CurrentDirectory)];
    }

    /// <summary>Full paths without a trailing separator (except a file-system root such as <c>/</c>).</summary>
    public IReadOnlyList<string> Roots { get; }

    /// <summary>Whether <paramref name="path"/> (relative to the working folder, or absolute) is a root or lies under one.</summary>
    public bool Contains(string path)
    {
        var full = Normalize(path);
        return Roots.Any(root => string.Equals(full, root, PathComparison)
            || full.StartsWith(Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar, PathComparison));
    }

    /// <summary>One error per dataset folder of <paramref name="datasets"/> outside every root, naming the field and the roots.</summary>
    public IReadOnlyList<SpecError> Check(SearchDatasets datasets)
    {
        var errors = new List<SpecError>();
        foreach (var (field, path) in new[] { ("datasets.train", datasets.Train), ("datasets.validation", datasets.Validation), ("datasets.calibration", datasets.Calibration) })
        {
            // A missing or empty folder is the reader's own error ("is required").
            if (string.IsNullOrEmpty(path))
                continue;
            string? problem = null;
            try
            {
                if (!Contains(path))
                    problem = $"'{path}' ({Normalize(path)}) is outside every data root ({string.Join(", ", Roots)}); the cluster's {Section} lists the folders datasets may be in";
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
            {
                problem = $"'{path}' is not a usable path: {e.Message}";
            }
            if (problem is not null)
                errors.Add(new SpecError(field, problem));
        }
        return errors;
    }

    private static string Normalize(string path)
    {
        var full = Path.GetFullPath(path);
        return full.Length > Path.GetPathRoot(full)!.Length ? Path.TrimEndingDirectorySeparator(full) : full;
    }
}
