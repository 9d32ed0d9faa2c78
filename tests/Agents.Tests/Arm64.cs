using System.Diagnostics;
using SrMobile.Tests;

namespace SrMobile.Agents.Tests;

/// <summary>
/// The linux-arm64 agent on this x86 machine: published self-contained once per test run (or taken from
/// <c>SRMOBILE_AGENT_ARM64</c>, where CI published it), run by qemu-user with Debian's multiarch arm64 libraries
/// (libc, libstdc++ and OpenSSL, which .NET needs for SHA-256 and TLS; the cross-toolchain packages have no OpenSSL, and
/// mixing the two libc copies hangs the runtime at start). ONNX Runtime's
/// CPU detection crashes on the host's x86 <c>/proc/cpuinfo</c>, so the agent runs in a private mount namespace with
/// an ARM one bound over it (root, as in CI). Everything it needs is installed by <c>.ci/run</c>; missing, the tests
/// fail saying what to install.
/// </summary>
internal static class Arm64
{
    private static readonly Lazy<string> Published = new(Publish);

    public static string PublishFolder => Published.Value;

    public static IReadOnlyDictionary<string, string> Environment { get; } = new Dictionary<string, string>
    {
        ["QEMU_CPU"] = "neoverse-n1",
        // W^X costs a lot under emulation.
        ["DOTNET_EnableWriteXorExecute"] = "0",
    };

    /// <summary><paramref name="command"/> in a private mount namespace with the ARM <c>/proc/cpuinfo</c>.</summary>
    public static IReadOnlyList<string> Isolated(IReadOnlyList<string> command)
    {
        Require("/usr/bin/qemu-aarch64-static", "qemu-user-static");
        Require("/lib/ld-linux-aarch64.so.1", "libc6:arm64");
        Require("/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "libstdc++6:arm64");
        Require("/usr/lib/aarch64-linux-gnu/libssl.so.3", "libssl3:arm64");
        var cpuinfo = Path.Combine(AppContext.BaseDirectory, "arm64-cpuinfo.txt");
        var quoted = string.Join(' ', command.Select(part => $"'{part}'"));
        return ["unshare", "-m", "sh", "-c", $"mount --bind '{cpuinfo}' /proc/cpuinfo && exec {quoted} \"$@\"", "agent"];
    }

    private static void Require(string path, string package)
    {
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} is missing: install Debian's {package}: dpkg --add-architecture arm64, then qemu-user-static libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64 libssl3:arm64 (.ci/run does)");
    }

    private static string Publish()
    {
        if (System.Environment.GetEnvironmentVariable("SRMOBILE_AGENT_ARM64") is { Length: > 0 } given)
            return File.Exists(Path.Combine(given, "srmobile-agent")) ? given : throw new InvalidOperationException($"SRMOBILE_AGENT_ARM64={given} holds no srmobile-agent");
        var folder = Path.Combine(AppContext.BaseDirectory, "agent-linux-arm64");
        var start = new ProcessStartInfo("dotnet", ["publish", Path.Combine(TestData.RepositoryRoot, "src", "Agents", "Agents.csproj"),
            "-c", "Release", "-r", "linux-arm64", "--self-contained", "-o", folder, "-v", "quiet", "-nologo"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"publishing the linux-arm64 agent failed:\n{output.Result}\n{errors}");
        return folder;
    }
}
