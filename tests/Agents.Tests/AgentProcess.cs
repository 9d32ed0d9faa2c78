using System.Diagnostics;
using System.Globalization;
using SrMobile.Tests;

namespace SrMobile.Agents.Tests;

/// <summary>
/// A real <c>srmobile-agent</c> process: the x64 build beside the tests (<c>dotnet srmobile-agent.dll</c>), or the
/// published linux-arm64 agent under qemu-user in a private mount namespace with an ARM <c>/proc/cpuinfo</c>
/// (<see cref="Arm64"/>). Its output goes to a log; it is given only what a board is given: the gateway, a token, a
/// name, a folder, a metrics port.
/// </summary>
internal sealed class AgentProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StreamWriter log;

    private AgentProcess(ProcessStartInfo start, string logPath)
    {
        Start = start;
        LogPath = logPath;
        log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        process = Process.Start(start) ?? throw new InvalidOperationException("srmobile-agent did not start");
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public ProcessStartInfo Start { get; }

    public string LogPath { get; }

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    public string Log()
    {
        lock (log)
            return File.ReadAllText(LogPath);
    }

    /// <summary>The command that runs an agent on this machine: x64 as built, or arm64 under emulation.</summary>
    public static IReadOnlyList<string> Launcher(bool arm64) => arm64
        ? ["qemu-aarch64-static", Path.Combine(Arm64.PublishFolder, "srmobile-agent")]
        : ["dotnet", Path.Combine(AppContext.BaseDirectory, "srmobile-agent.dll")];

    /// <summary>An agent in client mode: a client of <paramref name="gateway"/> with <paramref name="token"/>, nothing else.</summary>
    public static AgentProcess Run(bool arm64, string gateway, string clusterId, string token, string name, string folder, params (string Key, string Value)[] settings) =>
        Launch(arm64, ["--cluster", gateway, "--token", token], clusterId, name, folder, settings);

    /// <summary>An x64 agent in silo mode: a device-role silo of the cluster in <paramref name="connectionString"/>'s membership table, no token.</summary>
    public static AgentProcess RunSilo(string connectionString, string clusterId, string key, string name, string folder, params (string Key, string Value)[] settings) =>
        Launch(false, ["--mode", "silo", "--key", key], clusterId, name, folder,
        [
            ("SrMobile:Storage:Kind", "azure"), ("SrMobile:Storage:ConnectionString", connectionString),
            ("SrMobile:SiloPort", TestData.FreePort().ToString(CultureInfo.InvariantCulture)), .. settings,
        ]);

    private static AgentProcess Launch(bool arm64, string[] arguments, string clusterId, string name, string folder, (string Key, string Value)[] settings)
    {
        var launcher = Launcher(arm64);
        IReadOnlyList<string> command = arm64 ? Arm64.Isolated(launcher) : launcher;
        var start = new ProcessStartInfo(command[0], [.. command.Skip(1), .. arguments, "--name", name, "--work", folder,
            "--http-port", TestData.FreePort().ToString(CultureInfo.InvariantCulture), "--emulated", arm64 ? "true" : "false"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder,
        };
        Directory.CreateDirectory(folder);
        start.Environment["SrMobile__ClusterId"] = clusterId;
        start.Environment["SrMobile__ServiceId"] = clusterId;
        start.Environment["SrMobile__Device__RegistryInterval"] = "00:00:01";
        start.Environment["SrMobile__Device__PollInterval"] = "00:00:00.5";
        // A canary small enough for emulation (its default protocol is a board's).
        foreach (var (setting, value) in new[] { ("Height", "24"), ("Width", "32"), ("Warmup", "1"), ("MinRuns", "3"), ("MinSeconds", "0") })
            start.Environment[$"SrMobile__Device__Canary__{setting}"] = value;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__SrMobile"] = "Information";
        // The engine's child process runs through the same emulator (no binfmt handler is registered here).
        foreach (var (index, part) in launcher.Index())
            start.Environment[$"SrMobile__Device__EngineLauncher__{index}"] = part;
        if (arm64)
        {
            foreach (var (key, value) in Arm64.Environment)
                start.Environment[key] = value;
        }
        foreach (var (key, value) in settings)
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        return new AgentProcess(start, Path.Combine(folder, $"{name}.log"));
    }

    /// <summary>Waits for the process to end by itself.</summary>
    public async Task<int> Exited(TimeSpan within)
    {
        using var limit = new CancellationTokenSource(within);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the agent did not exit within {within}:\n{Log()}");
        }
        return process.ExitCode;
    }

    /// <summary>SIGKILL of the agent and its engine child.</summary>
    public void Kill()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    private void Write(string? line)
    {
        if (line is null)
            return;
        lock (log)
            log.WriteLine(line);
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        process.Dispose();
        lock (log)
            log.Dispose();
        return ValueTask.CompletedTask;
    }
}
