using System.Diagnostics;
using System.Text.Json;

namespace SrMobile.Deploy.Tests;

/// <summary>
/// The npm packages validate-models.mjs needs (kubernetes-models and @kubernetes-models/prometheus-operator, devDependencies
/// of the repository's package.json at the versions package-lock.json locks). <c>.ci/run</c> installs them with <c>npm ci</c>;
/// where node_modules lacks them (a clone whose node_modules predates them) they are added here without touching the
/// packages already there (Azurite may be running from them), under the lock the Azurite installer takes.
/// </summary>
public static class NodeModules
{
    public static readonly string[] Packages = ["kubernetes-models", "@kubernetes-models/prometheus-operator"];

    private static readonly Lazy<Task> Installed = new(Install);

    public static Task Ensure() => Installed.Value;

    private static async Task Install()
    {
        var root = TestData.RepositoryRoot;
        if (Missing(root).Count == 0)
            return;
        // The same lock file as tests/Shared/Azurite.cs: one npm at a time in the repository.
        var lockPath = Path.Combine(Path.GetTempPath(), $"srmobile-npm-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(root)))[..16]}.lock");
        await using var installLock = await TakeLock(lockPath, TimeSpan.FromMinutes(10));
        var missing = Missing(root);
        if (missing.Count == 0)
            return;
        // Without the locked Azurite either, install everything the lock names (npm ci), so the Azurite fixture finds it
        // done instead of running `npm ci` later, which would empty node_modules under a running validation. Else add
        // only what is missing, leaving the rest (a running Azurite's files) alone.
        var arguments = Missing(root, ["azurite"]).Count > 0
            ? new[] { "ci", "--no-audit", "--no-fund" }
            : new[] { "install", "--no-save", "--no-audit", "--no-fund" }.Concat(missing);
        var npm = new ProcessStartInfo("npm") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            npm.ArgumentList.Add(argument);
        using var installer = Process.Start(npm) ?? throw new InvalidOperationException("npm did not start");
        var stdout = installer.StandardOutput.ReadToEndAsync();
        var stderr = installer.StandardError.ReadToEndAsync();
        await installer.WaitForExitAsync();
        if (installer.ExitCode != 0 || Missing(root).Count > 0)
            throw new InvalidOperationException($"npm {string.Join(' ', arguments)} failed (exit {installer.ExitCode}); the manifest tests need them (apt-get install nodejs npm):\n{await stdout}\n{await stderr}");
    }

    /// <summary>Each package (as name@locked-version) that node_modules lacks or holds at another version.</summary>
    private static List<string> Missing(string root) => Missing(root, Packages);

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
                using var json = JsonDocument.Parse(File.ReadAllText(manifest));
                installed = json.RootElement.GetProperty("version").GetString();
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
