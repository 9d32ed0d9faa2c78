using System.Globalization;
using System.Text.RegularExpressions;

namespace SrMobile.Deploy.Tests;

/// <summary>
/// What the code in src/ reads and serves, found in its source so the manifests are checked against the code as it is:
/// per program (an executable's project and every project it references), the configuration keys it reads (literal
/// <c>"SrMobile:…"</c> keys, <c>section["Key"]</c> of a class's <c>Section</c>, <c>$"{Section}:Key"</c>, and the
/// properties of options classes with a <c>Section</c>), the health endpoints it maps, its HTTP port default;
/// the silo roles; the agent's switches; and the SrMobile meter's Prometheus series and labels.
/// </summary>
public sealed partial class SourceFacts
{
    public required string Root { get; init; }

    /// <summary>Program (assembly name, e.g. srmobile-silo) → the src project folders it is built from.</summary>
    public required IReadOnlyDictionary<string, IReadOnlySet<string>> Programs { get; init; }

    /// <summary>Project folder → configuration keys its source reads (numeric list segments left out).</summary>
    public required IReadOnlyDictionary<string, IReadOnlySet<string>> KeysByProject { get; init; }

    /// <summary>Project folder → HTTP paths it maps (health checks, /metrics).</summary>
    public required IReadOnlyDictionary<string, IReadOnlySet<string>> EndpointsByProject { get; init; }

    public required IReadOnlySet<string> Roles { get; init; }

    public required IReadOnlySet<string> AgentSwitches { get; init; }

    /// <summary>Prometheus series names of the SrMobile meter (with _total, unit suffixes, _bucket/_sum/_count).</summary>
    public required IReadOnlySet<string> Series { get; init; }

    public required IReadOnlySet<string> SeriesLabels { get; init; }

    /// <summary>The silo's port defaults: <c>SrMobile:SiloPort</c>, <c>SrMobile:GatewayPort</c>; and each program's HTTP port.</summary>
    public required IReadOnlyDictionary<string, int> PortDefaults { get; init; }

    public required IReadOnlyDictionary<string, int> HttpPortByProgram { get; init; }

    public IReadOnlySet<string> Keys(string program) => Programs[program].SelectMany(p => KeysByProject.GetValueOrDefault(p) ?? new HashSet<string>()).ToHashSet(StringComparer.OrdinalIgnoreCase);

    public IReadOnlySet<string> Endpoints(string program) => Programs[program].SelectMany(p => EndpointsByProject.GetValueOrDefault(p) ?? new HashSet<string>()).ToHashSet();

    /// <summary>A configuration key without its list indices: SrMobile:DataRoots:0 → SrMobile:DataRoots.</summary>
    public static string WithoutIndices(string key) => string.Join(':', key.Split(':').Where(s => !s.All(char.IsAsciiDigit)));

    public static SourceFacts Read(string root)
    {
        var src = Path.Combine(root, "src");
        var projects = Directory.GetDirectories(src).Where(d => Directory.GetFiles(d, "*.csproj").Length == 1).ToList();
        var references = projects.ToDictionary(p => Path.GetFileName(p), p => ProjectReference().Matches(File.ReadAllText(Directory.GetFiles(p, "*.csproj")[0]))
            .Select(m => Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(Path.Combine(p, m.Groups[1].Value.Replace('\\', '/'))))!)).ToList());
        var programs = new Dictionary<string, IReadOnlySet<string>>();
        foreach (var project in projects)
        {
            var name = AssemblyName().Match(File.ReadAllText(Directory.GetFiles(project, "*.csproj")[0]));
            if (name.Success)
                programs[name.Groups[1].Value] = Closure(Path.GetFileName(project), references);
        }

        var keys = new Dictionary<string, IReadOnlySet<string>>();
        var endpoints = new Dictionary<string, IReadOnlySet<string>>();
        var ports = new Dictionary<string, int>();
        var httpPorts = new Dictionary<string, int>();
        foreach (var project in projects)
        {
            var projectKeys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var projectEndpoints = new HashSet<string>();
            foreach (var file in Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)))
            {
                var text = File.ReadAllText(file);
                foreach (Match m in LiteralKey().Matches(text))
                    projectKeys.Add(WithoutIndices(m.Groups[1].Value));
                foreach (var (section, body) in SectionClasses(text))
                {
                    projectKeys.Add(section);
                    foreach (Match m in SectionIndexer().Matches(body))
                        projectKeys.Add($"{section}:{m.Groups[1].Value}");
                    foreach (Match m in Property().Matches(body))
                        projectKeys.Add($"{section}:{m.Groups[1].Value}");
                }
                foreach (Match m in InterpolatedKey().Matches(text))
                {
                    var owner = m.Groups[1].Value is { Length: > 0 } type ? type : null;
                    foreach (var (section, cls) in AllSections(root))
                        if (owner is null ? SectionClasses(text).Any(s => s.Section == section) : cls == owner)
                            projectKeys.Add($"{section}:{m.Groups[2].Value}");
                }
                foreach (Match m in HealthEndpoint().Matches(text))
                    projectEndpoints.Add(m.Groups[1].Value);
                if (text.Contains("MapPrometheusScrapingEndpoint()", StringComparison.Ordinal))
                    projectEndpoints.Add("/metrics");
                foreach (Match m in PortDefault().Matches(text))
                    ports[m.Groups[1].Value] = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
                if (DefaultHttpPort().Match(text) is { Success: true } agentPort)
                    httpPorts[Path.GetFileName(project)] = int.Parse(agentPort.Groups[1].Value, CultureInfo.InvariantCulture);
                if (HttpOptionsPort().Match(text) is { Success: true } siloPort)
                    httpPorts[Path.GetFileName(project)] = int.Parse(siloPort.Groups[1].Value, CultureInfo.InvariantCulture);
            }
            keys[Path.GetFileName(project)] = projectKeys;
            endpoints[Path.GetFileName(project)] = projectEndpoints;
        }

        var roles = Regex.Matches(File.ReadAllText(Path.Combine(src, "Grains", "Placement", "SiloRolePlacement.cs")), @"const string (?!MetadataKey)\w+ = ""(\w+)""")
            .Select(m => m.Groups[1].Value).ToHashSet();
        var switches = Regex.Matches(File.ReadAllText(Path.Combine(src, "Agents", "AgentHostingExtensions.cs")), @"\[""(--[\w-]+)""\] =")
            .Select(m => m.Groups[1].Value).ToHashSet();
        var (series, labels) = Metrics(File.ReadAllText(Path.Combine(src, "Contracts", "Telemetry", "SrMobileMetrics.cs")));
        return new SourceFacts
        {
            Root = root,
            Programs = programs,
            KeysByProject = keys,
            EndpointsByProject = endpoints,
            Roles = roles,
            AgentSwitches = switches,
            Series = series,
            SeriesLabels = labels,
            PortDefaults = ports,
            // Exactly one project of a program sets its HTTP port default (src/Hosting's HttpOptions, src/Agents' own).
            HttpPortByProgram = programs.Where(p => p.Value.Any(httpPorts.ContainsKey))
                .ToDictionary(p => p.Key, p => p.Value.Where(httpPorts.ContainsKey).Select(project => httpPorts[project]).Distinct().Single()),
        };
    }

    private static IReadOnlySet<string> Closure(string project, Dictionary<string, List<string>> references)
    {
        var seen = new HashSet<string>();
        var stack = new Stack<string>([project]);
        while (stack.TryPop(out var next))
            if (seen.Add(next))
                foreach (var reference in references.GetValueOrDefault(next) ?? [])
                    stack.Push(reference);
        return seen;
    }

    /// <summary>Each class with a <c>const string Section = "SrMobile…"</c>, with the text of its body (up to the next class).</summary>
    private static IEnumerable<(string Section, string Body)> SectionClasses(string text)
    {
        var classes = ClassDeclaration().Matches(text).ToList();
        for (var i = 0; i < classes.Count; i++)
        {
            var end = i + 1 < classes.Count ? classes[i + 1].Index : text.Length;
            var body = text[classes[i].Index..end];
            if (SectionConstant().Match(body) is { Success: true } section)
                yield return (section.Groups[1].Value, body);
        }
    }

    private static List<(string Section, string Class)>? allSections;

    private static List<(string Section, string Class)> AllSections(string root) => allSections ??= Directory
        .EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories)
        .SelectMany(f =>
        {
            var text = File.ReadAllText(f);
            var classes = ClassDeclaration().Matches(text).ToList();
            return classes.Select((c, i) => (c, body: text[c.Index..(i + 1 < classes.Count ? classes[i + 1].Index : text.Length)]))
                .Where(x => SectionConstant().IsMatch(x.body))
                .Select(x => (SectionConstant().Match(x.body).Groups[1].Value, x.c.Groups[1].Value));
        })
        .ToList();

    /// <summary>The Prometheus names OpenTelemetry's exporter gives the meter's instruments, and the labels they carry.</summary>
    private static (IReadOnlySet<string>, IReadOnlySet<string>) Metrics(string text)
    {
        var series = new HashSet<string>();
        foreach (Match m in Instrument().Matches(text))
        {
            var (kind, name, unit) = (m.Groups[1].Value, m.Groups[2].Value.Replace('.', '_'), m.Groups[3].Value);
            if (unit == "s" && !name.EndsWith("_seconds", StringComparison.Ordinal))
                name += "_seconds";
            switch (kind)
            {
                case "Counter":
                    series.Add(name + "_total");
                    break;
                case "Histogram":
                    series.UnionWith([name + "_bucket", name + "_sum", name + "_count"]);
                    break;
                default:
                    series.Add(name);
                    break;
            }
        }
        var labels = TagName().Matches(text).Select(m => m.Groups[1].Value).ToHashSet();
        labels.UnionWith(["service_name", "service_instance_id"]);
        return (series, labels);
    }

    [GeneratedRegex(@"<ProjectReference Include=""([^""]+)""")]
    private static partial Regex ProjectReference();

    [GeneratedRegex(@"<AssemblyName>(srmobile[\w-]*)</AssemblyName>")]
    private static partial Regex AssemblyName();

    [GeneratedRegex(@"""(SrMobile(?::[A-Za-z0-9]+)+)")]
    private static partial Regex LiteralKey();

    [GeneratedRegex(@"\b(?:class|record)\s+(\w+)")]
    private static partial Regex ClassDeclaration();

    [GeneratedRegex(@"const string Section = ""(SrMobile[\w:]*)""")]
    private static partial Regex SectionConstant();

    [GeneratedRegex(@"section\[""(\w+)""\]")]
    private static partial Regex SectionIndexer();

    [GeneratedRegex(@"public (?!static|const)[\w<>\[\]?, ]+ (\w+) \{ get; (?:set|init); \}")]
    private static partial Regex Property();

    [GeneratedRegex(@"\$""\{(?:(\w+)\.)?Section\}:(\w+)")]
    private static partial Regex InterpolatedKey();

    [GeneratedRegex(@"MapHealthChecks\(""([^""]+)""")]
    private static partial Regex HealthEndpoint();

    [GeneratedRegex(@"GetValue\(""SrMobile:(SiloPort|GatewayPort)"", (\d+)\)")]
    private static partial Regex PortDefault();

    [GeneratedRegex(@"const int DefaultHttpPort = (\d+);")]
    private static partial Regex DefaultHttpPort();

    [GeneratedRegex(@"public int Port \{ get; set; \} = (\d+);")]
    private static partial Regex HttpOptionsPort();

    [GeneratedRegex(@"Create(ObservableGauge|Counter|Histogram)(?:<\w+>)?\(""([\w.]+)""(?:, (?:""([^""]*)""|null))?")]
    private static partial Regex Instrument();

    [GeneratedRegex(@"\(\(?""([a-z_]+)"", [^)]*\)")]
    private static partial Regex TagName();
}
