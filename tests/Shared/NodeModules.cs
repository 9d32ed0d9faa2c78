using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace SrMobile.Tests;

/// <summary>
/// The npm packages tests run (Azurite for the storage tests; kubernetes-models and its Prometheus Operator models for
/// the deploy/k8s tests), devDependencies of the repository's package.json at the versions package-lock.json locks.
/// <c>.ci/run</c> installs them with <c>npm ci</c>; a plain <c>dotnet test</c> gets what it lacks here, once per test
/// process and one npm at a time across the test processes that run side by side (a lock file).
/// </summary>
internal static class NodeModules
{
    private static readonly ConcurrentDictionary<string, Lazy<Task>> Installs = new();

    /// <summary>Installs <paramref name="packages"/> when node_modules lacks them or holds other versions than the locked ones.</summary>
    public static Task Ensure(params string[] packages) =>
        Installs.GetOrAdd(string.Join(' ', packages.Order(StringComparer.Ordinal)), _ => new Lazy<Task>(() => Install(packages))).Value;

    private static async Task Install(string[] packages)
    {
        var root = TestData.RepositoryRoot;
        if (Missing(root, packages).Count == 0)
            return;
        var lockPath = Path.Combine(Path.GetTempPath(), $"srmobile-npm-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(root)))[..16]}.lock");
        await using var installLock = await TakeLock(lockPath, TimeSpan.FromMinutes(10));
        var missing = Missing(root, packages);
        if (missing.Count == 0)
            return;
        // Nothing locked installed yet: everything the lock names (npm ci). Else only what is missing, leaving the rest
        // alone: `npm ci` empties node_modules first, under an Azurite or a validation another test runs from it.
        var locked = Locked(root);
        var arguments = Missing(root, locked).Count == locked.Count
            ? new[] { "ci", "--no-audit", "--no-fund" }
            : new[] { "install", "--no-save", "--no-audit", "--no-fund" }.Concat(missing).ToArray();
        var npm = new ProcessStartInfo("npm", arguments) { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        Process installer;
        try
        {
            installer = Process.Start(npm) ?? throw new InvalidOperationException("npm did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"these tests need {string.Join(", ", packages)} from npm, and npm cannot run ({e.Message}): apt-get install nodejs npm", e);
        }
        using (installer)
        {
            var stdout = installer.StandardOutput.ReadToEndAsync();
            var stderr = installer.StandardError.ReadToEndAsync();
            await installer.WaitForExitAsync();
            if (installer.ExitCode != 0 || Missing(root, packages).Count > 0)
                throw new InvalidOperationException($"npm {string.Join(' ', arguments)} in {root} failed (exit {installer.ExitCode}); these tests need {string.Join(", ", missing)}:\n{await stdout}\n{await stderr}");
        }
    }

    /// <summary>The packages package.json names (the devDependencies), each locked by package-lock.json.</summary>
    private static List<string> Locked(string root)
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "package.json")));
        return [.. manifest.RootElement.GetProperty("devDependencies").EnumerateObject().Select(p => p.Name)];
    }

    /// <summary>Each package (as name@locked-version) that node_modules lacks or holds at another version.</summary>
    private static List<string> Missing(string root, IEnumerable<string> packages)
    {
        using var lockFile = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "package-lock.json")));
        var missing = new List<string>();
        foreach (var package in packages)
        {
            var locked = lockFile.RootElement.GetProperty("packages").GetProperty($"node_modules/{package}").GetProperty("version").GetString();
            var manifest = Path.Combine(root, "node_modules", package, "package.json");
            string? installed = null;
            if (File.Exists(manifest))
            {
                try
                {
                    using var json = JsonDocument.Parse(File.ReadAllText(manifest));
                    installed = json.RootElement.GetProperty("version").GetString();
                }
                catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException)
                {
                    // Half written by an install elsewhere: missing.
                }
            }
            if (installed != locked)
                missing.Add($"{package}@{locked}");
        }
        return missing;
    }

    private static async Task<FileStream> TakeLock(string path, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }
}
