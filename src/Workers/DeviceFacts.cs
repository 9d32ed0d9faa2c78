using System.Runtime.InteropServices;
using SrMobile.Engine.Onnx;

namespace SrMobile.Workers;

/// <summary>
/// What a device worker tells the cluster about its machine, detected where the machine says it: CPU model (or, on
/// ARM, implementer and part), architecture, cores, memory, OS and kernel, ONNX Runtime's version and execution
/// providers, governor, frequency and thermal zones; and whether it runs emulated, so an emulated number is never
/// taken for a board's. Missing files leave their keys out.
/// </summary>
public static class DeviceFacts
{
    public static IReadOnlyDictionary<string, string> Detect(bool emulated)
    {
        var facts = new Dictionary<string, string>(LatencyMeasurement.Environment())
        {
            ["emulated"] = emulated ? "true" : "false",
            ["onnxruntime"] = SrEngine.RuntimeVersion,
            ["execution_providers"] = string.Join(",", SrEngine.ExecutionProviders()),
            ["os_architecture"] = RuntimeInformation.OSArchitecture.ToString(),
        };
        var cpuinfo = Read("/proc/cpuinfo") ?? "";
        foreach (var (field, key) in new[] { ("CPU implementer", "cpu_implementer"), ("CPU part", "cpu_part"), ("Hardware", "hardware") })
        {
            if (Field(cpuinfo, field) is { } value)
                facts[key] = value;
        }
        if (Field(cpuinfo, "model name") is null && Field(cpuinfo, "CPU part") is { } part)
            facts["cpu_model"] = ArmCores.GetValueOrDefault(part.ToLowerInvariant(), $"ARM part {part}");
        if (Read("/proc/meminfo") is { } meminfo && Field(meminfo, "MemTotal") is { } total)
            facts["memory"] = total;
        if (Read("/proc/sys/kernel/osrelease") is { } kernel)
            facts["kernel"] = kernel.Trim();
        if (Read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") is { } governor)
            facts["governor"] = governor.Trim();
        if (Directory.Exists("/sys/class/thermal"))
        {
            foreach (var zone in Directory.EnumerateDirectories("/sys/class/thermal", "thermal_zone*").Order(StringComparer.Ordinal))
            {
                if (Read(Path.Combine(zone, "temp")) is { } temp && long.TryParse(temp.Trim(), out var milli))
                    facts[Path.GetFileName(zone)] = $"{milli / 1000.0:F1} C";
            }
        }
        facts["derived_key"] = Key(facts);
        return facts;
    }

    /// <summary>The derived device key of this machine: architecture and CPU, and the engine's version.</summary>
    public static string Key(IReadOnlyDictionary<string, string> facts)
    {
        var cpu = facts.GetValueOrDefault("cpu_model") ?? facts.GetValueOrDefault("cpu_part") ?? "cpu";
        var name = new string([.. $"{facts.GetValueOrDefault("architecture")}-{cpu}-ort{facts.GetValueOrDefault("onnxruntime")}".ToLowerInvariant()
            .Select(c => char.IsAsciiLetterOrDigit(c) || c == '.' ? c : '-')]);
        while (name.Contains("--", StringComparison.Ordinal))
            name = name.Replace("--", "-", StringComparison.Ordinal);
        return name.Trim('-');
    }

    // The common Arm cores by their MIDR part number (implementer 0x41).
    private static readonly Dictionary<string, string> ArmCores = new()
    {
        ["0xd03"] = "Cortex-A53", ["0xd04"] = "Cortex-A35", ["0xd05"] = "Cortex-A55", ["0xd07"] = "Cortex-A57", ["0xd08"] = "Cortex-A72",
        ["0xd09"] = "Cortex-A73", ["0xd0a"] = "Cortex-A75", ["0xd0b"] = "Cortex-A76", ["0xd0c"] = "Neoverse-N1", ["0xd0d"] = "Cortex-A77",
        ["0xd41"] = "Cortex-A78", ["0xd44"] = "Cortex-X1", ["0xd46"] = "Cortex-A510", ["0xd47"] = "Cortex-A710", ["0xd48"] = "Cortex-X2",
        ["0xd40"] = "Neoverse-V1", ["0xd49"] = "Neoverse-N2", ["0xd4f"] = "Neoverse-V2", ["0xd4d"] = "Cortex-A715", ["0xd4e"] = "Cortex-X3",
    };

    private static string? Field(string text, string name) =>
        text.Split('\n').FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l.Contains(':'))?.Split(':', 2)[1].Trim() is { Length: > 0 } value ? value : null;

    private static string? Read(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
