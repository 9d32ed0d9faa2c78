namespace SrMobile.Tests;

/// <summary>
/// Where the tests find data: the repository (bundled samples) and the shared data folder beside the checkout
/// (<c>../shared/data</c>, read-only; override with SRMOBILE_SHARED_DATA). Caches go to a temporary folder.
/// </summary>
internal static class TestData
{
    /// <summary>A TCP port of 127.0.0.1 that nothing listens on now (for silos and Azurite started by tests).</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string SharedData { get; } =
        Environment.GetEnvironmentVariable("SRMOBILE_SHARED_DATA") is { Length: > 0 } overridden
            ? overridden
            : Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "data"));

    public static string Benchmark(string set) => RequireFolder(Path.Combine(SharedData, "benchmarks", set));

    public static string TrainingPool => RequireFolder(Path.Combine(SharedData, "train"));

    public static string Samples => RequireFolder(Path.Combine(RepositoryRoot, "samples", "train"));

    /// <summary>A new empty folder under the system temp directory, removed when disposed.</summary>
    public static TemporaryFolder NewTemporaryFolder() => new();

    private static string RequireFolder(string path) =>
        Directory.Exists(path) ? path : throw new DirectoryNotFoundException($"test data folder {path} is missing");

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "SrMobile.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException($"no SrMobile.sln above {AppContext.BaseDirectory}");
    }
}

internal sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "srmobile-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still open on a slow teardown is left for the OS temp cleaner; never fail a test for it.
        }
    }
}
