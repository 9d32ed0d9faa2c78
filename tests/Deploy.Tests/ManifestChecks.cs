using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SrMobile.Deploy.Tests;

/// <summary>
/// Cross-checks of rendered manifests against each other and against the code (<see cref="SourceFacts"/>): images come
/// from this repository's Dockerfiles (tagged) or a short list of outside images; every <c>SrMobile__*</c> variable is a
/// configuration key the container's program reads; roles, agent switches, ports, probe and scrape paths are the
/// code's; selectors select; every ConfigMap, Secret (and key), volume, claim, service account and role resolves;
/// TLS files lie on a mounted volume; the grace period covers the shutdown timeout; alert expressions use the SrMobile
/// meter's series and labels. Each check returns its problems as sentences naming the object; none means all hold.
/// </summary>
public static partial class ManifestChecks
{
    /// <summary>Images not built here, and why they are trusted.</summary>
    public static readonly IReadOnlyDictionary<string, string> OutsideImages = new Dictionary<string, string>
    {
        ["mcr.microsoft.com/azure-storage/azurite"] = "the Azure Storage emulator of overlays/dev (the version package-lock.json locks)",
    };

    /// <summary>
    /// Secrets the base reads but does not make (an apply would overwrite real ones with placeholders), with their keys:
    /// deploy/k8s/secrets.example.yaml shows exactly these (a test holds it to that), the README says how to make them.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string[]> OutsideSecrets = new Dictionary<string, string[]>
    {
        ["srmobile-storage"] = ["connection-string"],
        ["srmobile-api"] = ["api-key"],
        ["srmobile-tls"] = ["tls.crt", "tls.key", "ca.crt"],
    };

    /// <summary>Variables read by name outside <c>IConfiguration</c>: Orleans' Kubernetes hosting.</summary>
    public static readonly IReadOnlySet<string> PodVariables = new HashSet<string>
    {
        Orleans.Hosting.Kubernetes.KubernetesHostingOptions.PodNameEnvironmentVariable,
        Orleans.Hosting.Kubernetes.KubernetesHostingOptions.PodNamespaceEnvironmentVariable,
        Orleans.Hosting.Kubernetes.KubernetesHostingOptions.PodIPEnvironmentVariable,
        Orleans.Hosting.Kubernetes.KubernetesHostingOptions.ClusterIdEnvironmentVariable,
        Orleans.Hosting.Kubernetes.KubernetesHostingOptions.ServiceIdEnvironmentVariable,
    };

    private static readonly HashSet<string> Workloads = ["Deployment", "DaemonSet", "StatefulSet"];

    public static List<string> Problems(IReadOnlyList<JsonObject> documents, SourceFacts facts)
    {
        var problems = new List<string>();
        var images = DockerfileImages(facts.Root);
        var byKind = documents.ToLookup(Kustomize.Kind);
        bool Exists(string kind, string name) => byKind[kind].Any(d => Kustomize.Name(d) == name);
        JsonObject? Find(string kind, string name) => byKind[kind].FirstOrDefault(d => Kustomize.Name(d) == name);

        foreach (var workload in documents.Where(d => Workloads.Contains(Kustomize.Kind(d))))
        {
            var id = $"{Kustomize.Kind(workload)} {Kustomize.Name(workload)}";
            var template = workload["spec"]?["template"] as JsonObject;
            var templateLabels = Labels(template?["metadata"]?["labels"]);
            var selector = Labels(workload["spec"]?["selector"]?["matchLabels"]);
            if (selector.Count == 0 || selector.Any(l => templateLabels.GetValueOrDefault(l.Key) != l.Value))
                problems.Add($"{id}: selector {Show(selector)} does not match its pod template's labels {Show(templateLabels)}");
            var pod = Kustomize.PodSpec(workload)!;
            var volumes = (pod["volumes"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
            if ((string?)pod["serviceAccountName"] is { } account && !Exists("ServiceAccount", account))
                problems.Add($"{id}: service account {account} does not exist");
            foreach (var volume in volumes)
            {
                if ((string?)volume["secret"]?["secretName"] is { } secret && !Exists("Secret", secret) && !OutsideSecrets.ContainsKey(secret))
                    problems.Add($"{id}: volume {volume["name"]} uses Secret {secret}, which does not exist");
                if ((string?)volume["configMap"]?["name"] is { } map && !Exists("ConfigMap", map))
                    problems.Add($"{id}: volume {volume["name"]} uses ConfigMap {map}, which does not exist");
                if ((string?)volume["persistentVolumeClaim"]?["claimName"] is { } claim && !Exists("PersistentVolumeClaim", claim))
                    problems.Add($"{id}: volume {volume["name"]} uses PersistentVolumeClaim {claim}, which does not exist");
            }

            foreach (var container in Kustomize.Containers(workload))
            {
                var where = $"{id}, container {container["name"]}";
                var image = (string?)container["image"] ?? "";
                var (repository, tag) = Kustomize.SplitImage(image);
                if (tag is null or "latest")
                    problems.Add($"{where}: image {image} has no fixed tag");
                var program = images.GetValueOrDefault(repository);
                if (program is null && !OutsideImages.ContainsKey(repository))
                    problems.Add($"{where}: image {repository} is built by no Dockerfile of this repository (a `-t {repository}:TAG` in src/*/Dockerfile) and is no known outside image");
                foreach (var mount in (container["volumeMounts"] as JsonArray)?.OfType<JsonObject>() ?? [])
                    if (!volumes.Any(v => (string?)v["name"] == (string?)mount["name"]))
                        problems.Add($"{where}: volume mount {mount["name"]} names no volume of the pod");
                var settings = Settings(container, Find, problems, where);
                if (program is null)
                    continue;

                problems.AddRange(EnvironmentProblems(container, settings, facts, program, where));
                problems.AddRange(PortProblems(container, template, settings, facts, program, where));
                problems.AddRange(ProbeProblems(container, facts, program, where));
                foreach (var argument in (container["args"] as JsonArray)?.Select(a => (string?)a ?? "") ?? [])
                    if (argument.StartsWith("--", StringComparison.Ordinal) && (program != "srmobile-agent" || !facts.AgentSwitches.Contains(argument)))
                        problems.Add($"{where}: argument {argument} is no switch of {program}");

                // Orleans' Kubernetes hosting finds a cluster's pods by these labels: they must be the silo's ids.
                foreach (var (label, setting) in new[] { ("orleans/clusterId", "SrMobile__ClusterId"), ("orleans/serviceId", "SrMobile__ServiceId") })
                    if (templateLabels.GetValueOrDefault(label) is { } value && value != settings.GetValueOrDefault(setting, "srmobile"))
                        problems.Add($"{where}: pod label {label}={value} differs from {setting}={settings.GetValueOrDefault(setting, "srmobile (default)")}");

                // TLS on: the certificate files must be on a mounted volume.
                if (string.Equals(settings.GetValueOrDefault("SrMobile__Tls__Enabled"), "true", StringComparison.OrdinalIgnoreCase))
                    foreach (var file in new[] { "SrMobile__Tls__CertificatePath", "SrMobile__Tls__KeyPath", "SrMobile__Tls__CaPath" })
                    {
                        var path = settings.GetValueOrDefault(file);
                        var mounts = (container["volumeMounts"] as JsonArray)?.OfType<JsonObject>().Select(m => ((string?)m["mountPath"] ?? "").TrimEnd('/') + "/") ?? [];
                        if (path is null || !mounts.Any(m => path.StartsWith(m, StringComparison.Ordinal)))
                            problems.Add($"{where}: TLS is on but {file} ({path ?? "unset"}) is on no mounted volume");
                    }

                // The grace period must cover the drain (lease hand-back, leaving membership) that SrMobile__ShutdownTimeout allows.
                var grace = (int?)pod["terminationGracePeriodSeconds"] ?? 30;
                var shutdown = settings.GetValueOrDefault("SrMobile__ShutdownTimeout") is { } text ? TimeSpan.Parse(text, CultureInfo.InvariantCulture) : TimeSpan.FromSeconds(30);
                if (grace < shutdown.TotalSeconds + 15)
                    problems.Add($"{where}: terminationGracePeriodSeconds {grace} leaves less than 15 s over SrMobile__ShutdownTimeout ({shutdown})");

                if (Kustomize.Kind(workload) == "Deployment" && settings.Where(s => s.Key.StartsWith("SrMobile__Roles__", StringComparison.Ordinal)).Any(s => s.Value == "coordinator")
                    && (int?)workload["spec"]?["strategy"]?["rollingUpdate"]?["maxUnavailable"] != 0)
                    problems.Add($"{id}: a coordinator's rolling update must keep maxUnavailable 0 (the grains need a silo to move to)");

                if (pod["serviceAccountName"] is null)
                    problems.Add($"{id}: a silo needs service account srmobile-silo (Orleans' Kubernetes hosting reads and labels pods)");
            }
        }

        problems.AddRange(ServiceProblems(documents));
        problems.AddRange(RbacProblems(documents, byKind, Exists));
        problems.AddRange(AlertProblems(byKind["PrometheusRule"], facts));
        return problems;
    }

    /// <summary>A container's environment as the program sees it: its ConfigMaps' data, then its own literal values.</summary>
    private static Dictionary<string, string> Settings(JsonObject container, Func<string, string, JsonObject?> find, List<string> problems, string where)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in (container["envFrom"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            if ((string?)source["configMapRef"]?["name"] is { } name)
            {
                if (find("ConfigMap", name) is { } map)
                    foreach (var (key, value) in (map["data"] as JsonObject) ?? [])
                        settings[key] = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString() ?? "";
                else if ((bool?)source["configMapRef"]?["optional"] != true)
                    problems.Add($"{where}: envFrom ConfigMap {name} does not exist");
            }
            if ((string?)source["secretRef"]?["name"] is { } secret && find("Secret", secret) is null && !OutsideSecrets.ContainsKey(secret))
                problems.Add($"{where}: envFrom Secret {secret} does not exist");
        }
        foreach (var variable in (container["env"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var name = (string?)variable["name"] ?? "";
            if (variable["value"] is JsonValue value)
                settings[name] = value.TryGetValue<string>(out var s) ? s : value.ToJsonString();
            else
                settings[name] = "";
            foreach (var (kind, reference) in new[] { ("Secret", variable["valueFrom"]?["secretKeyRef"]), ("ConfigMap", variable["valueFrom"]?["configMapKeyRef"]) })
            {
                if (reference is null || (bool?)reference["optional"] == true)
                    continue;
                var target = (string?)reference["name"] ?? "";
                var key = (string?)reference["key"] ?? "";
                var found = find(kind, target);
                var outside = kind == "Secret" && found is null ? OutsideSecrets.GetValueOrDefault(target) : null;
                if (found is null && outside is null)
                    problems.Add($"{where}: env {name} reads {kind} {target}, which does not exist");
                else if (outside is not null ? !outside.Contains(key) : found!["data"]?[key] is null && found["stringData"]?[key] is null)
                    problems.Add($"{where}: env {name} reads key {key} of {kind} {target}, which it does not have");
            }
        }
        return settings;
    }

    private static IEnumerable<string> EnvironmentProblems(JsonObject container, Dictionary<string, string> settings, SourceFacts facts, string program, string where)
    {
        var keys = facts.Keys(program);
        var referenced = settings.Values.SelectMany(v => Reference().Matches(v).Select(m => m.Groups[1].Value)).ToHashSet();
        foreach (var (name, value) in settings)
        {
            if (name.StartsWith("SrMobile__", StringComparison.Ordinal))
            {
                var key = SourceFacts.WithoutIndices(name.Replace("__", ":", StringComparison.Ordinal));
                if (!keys.Contains(key))
                    yield return $"{where}: {name} is configuration key {key}, which {program} does not read";
                if (name.StartsWith("SrMobile__Roles__", StringComparison.Ordinal) && !facts.Roles.Contains(value))
                    yield return $"{where}: {name}={value} is no silo role ({string.Join(", ", facts.Roles)})";
            }
            else if (!name.StartsWith("Logging__", StringComparison.Ordinal) && !PodVariables.Contains(name) && !referenced.Contains(name))
                yield return $"{where}: environment variable {name} is read by nothing ({program} reads SrMobile__* keys, Logging__*, and Orleans' {string.Join(", ", PodVariables)})";
        }
    }

    private static IEnumerable<string> PortProblems(JsonObject container, JsonObject? template, Dictionary<string, string> settings, SourceFacts facts, string program, string where)
    {
        var ports = ContainerPorts(container);
        int Setting(string name, int fallback) => settings.TryGetValue(name, out var v) && int.TryParse(v, CultureInfo.InvariantCulture, out var p) ? p : fallback;
        var expected = new Dictionary<string, int>
        {
            ["http"] = Setting("SrMobile__Http__Port", facts.HttpPortByProgram[program]),
            ["silo"] = Setting("SrMobile__SiloPort", facts.PortDefaults["SiloPort"]),
            ["gateway"] = Setting("SrMobile__GatewayPort", program == "srmobile-agent" ? 0 : facts.PortDefaults["GatewayPort"]),
        };
        foreach (var (name, port) in ports)
        {
            if (!expected.TryGetValue(name, out var want))
                yield return $"{where}: port {name} is none of {program}'s (http, silo, gateway)";
            else if (want != port)
                yield return $"{where}: port {name} is {port} but {program} listens on {want} there";
        }
        if (!ports.ContainsKey("http"))
            yield return $"{where}: no port named http ({program} serves health and /metrics on {expected["http"]})";
        if (expected["gateway"] > 0 && !ports.ContainsKey("gateway") && program != "srmobile-agent")
            yield return $"{where}: the silo opens gateway port {expected["gateway"]} but the container does not declare it";
        var annotations = template?["metadata"]?["annotations"] as JsonObject;
        if ((string?)annotations?["prometheus.io/scrape"] == "true")
        {
            if ((string?)annotations["prometheus.io/port"] != expected["http"].ToString(CultureInfo.InvariantCulture))
                yield return $"{where}: prometheus.io/port is {annotations["prometheus.io/port"]} but /metrics is on {expected["http"]}";
            if ((string?)annotations["prometheus.io/path"] is { } path && !facts.Endpoints(program).Contains(path))
                yield return $"{where}: prometheus.io/path {path} is not served by {program}";
        }
    }

    private static IEnumerable<string> ProbeProblems(JsonObject container, SourceFacts facts, string program, string where)
    {
        var ports = ContainerPorts(container);
        foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
        {
            if (container[probe]?["httpGet"] is not JsonObject get)
                continue;
            var path = (string?)get["path"] ?? "/";
            if (!facts.Endpoints(program).Contains(path))
                yield return $"{where}: {probe} asks {path}, which {program} does not serve ({string.Join(", ", facts.Endpoints(program).Order())})";
            if (!PortResolves(get["port"], ports))
                yield return $"{where}: {probe} port {get["port"]?.ToJsonString()} is no port of the container";
        }
    }

    private static IEnumerable<string> ServiceProblems(IReadOnlyList<JsonObject> documents)
    {
        var pods = documents.Where(d => Workloads.Contains(Kustomize.Kind(d)))
            .Select(d => (Labels: Labels(d["spec"]?["template"]?["metadata"]?["labels"]), Ports: Kustomize.Containers(d).SelectMany(c => ContainerPorts(c)).ToList(), Workload: d)).ToList();
        bool Selects(Dictionary<string, string> selector, Dictionary<string, string> labels) => selector.Count > 0 && selector.All(s => labels.GetValueOrDefault(s.Key) == s.Value);

        foreach (var service in documents.Where(d => Kustomize.Kind(d) == "Service"))
        {
            var id = $"Service {Kustomize.Name(service)}";
            var selected = pods.Where(p => Selects(Labels(service["spec"]?["selector"]), p.Labels)).ToList();
            if (selected.Count == 0)
                yield return $"{id}: selector {Show(Labels(service["spec"]?["selector"]))} selects no pod template";
            foreach (var port in (service["spec"]?["ports"] as JsonArray)?.OfType<JsonObject>() ?? [])
                if (selected.Count > 0 && !selected.All(p => PortResolves(port["targetPort"] ?? port["port"], p.Ports.ToDictionary(x => x.Key, x => x.Value))))
                    yield return $"{id}: targetPort {(port["targetPort"] ?? port["port"])?.ToJsonString()} is no container port of the pods it selects";
        }
        foreach (var budget in documents.Where(d => Kustomize.Kind(d) == "PodDisruptionBudget"))
            if (!pods.Any(p => Selects(Labels(budget["spec"]?["selector"]?["matchLabels"]), p.Labels)))
                yield return $"PodDisruptionBudget {Kustomize.Name(budget)}: selector selects no pod template";
        foreach (var monitor in documents.Where(d => Kustomize.Kind(d) == "ServiceMonitor"))
        {
            var services = documents.Where(d => Kustomize.Kind(d) == "Service" && Selects(Labels(monitor["spec"]?["selector"]?["matchLabels"]), Labels(d["metadata"]?["labels"]))).ToList();
            if (services.Count == 0)
                yield return $"ServiceMonitor {Kustomize.Name(monitor)}: selector selects no Service (by the Service's own labels)";
            foreach (var endpoint in (monitor["spec"]?["endpoints"] as JsonArray)?.OfType<JsonObject>() ?? [])
                if (services.Count > 0 && !services.All(s => (s["spec"]?["ports"] as JsonArray)?.Any(p => (string?)p?["name"] == (string?)endpoint["port"]) == true))
                    yield return $"ServiceMonitor {Kustomize.Name(monitor)}: endpoint port {endpoint["port"]} is no port name of the Service";
        }
        foreach (var monitor in documents.Where(d => Kustomize.Kind(d) == "PodMonitor"))
        {
            var selector = monitor["spec"]?["selector"];
            var selected = pods.Where(p => Labels(selector?["matchLabels"]).All(s => p.Labels.GetValueOrDefault(s.Key) == s.Value)
                && ((selector?["matchExpressions"] as JsonArray)?.OfType<JsonObject>().All(e => (string?)e["operator"] == "In"
                    && (e["values"] as JsonArray)!.Any(v => (string?)v == p.Labels.GetValueOrDefault((string?)e["key"] ?? ""))) ?? true)).ToList();
            if (selected.Count == 0)
                yield return $"PodMonitor {Kustomize.Name(monitor)}: selector selects no pod template";
            foreach (var endpoint in (monitor["spec"]?["podMetricsEndpoints"] as JsonArray)?.OfType<JsonObject>() ?? [])
                if (!selected.All(p => p.Ports.Any(x => x.Key == (string?)endpoint["port"])))
                    yield return $"PodMonitor {Kustomize.Name(monitor)}: endpoint port {endpoint["port"]} is not a port of every pod it selects";
        }
    }

    private static IEnumerable<string> RbacProblems(IReadOnlyList<JsonObject> documents, ILookup<string, JsonObject> byKind, Func<string, string, bool> exists)
    {
        foreach (var binding in byKind["RoleBinding"])
        {
            var role = (string?)binding["roleRef"]?["name"] ?? "";
            if (!exists((string?)binding["roleRef"]?["kind"] ?? "Role", role))
                yield return $"RoleBinding {Kustomize.Name(binding)}: role {role} does not exist";
            foreach (var subject in (binding["subjects"] as JsonArray)?.OfType<JsonObject>() ?? [])
                if ((string?)subject["kind"] == "ServiceAccount" && !exists("ServiceAccount", (string?)subject["name"] ?? ""))
                    yield return $"RoleBinding {Kustomize.Name(binding)}: service account {subject["name"]} does not exist";
        }
        // Orleans' Kubernetes hosting reads, watches and labels its pods and may delete a dead silo's pod.
        var accounts = documents.Where(d => Workloads.Contains(Kustomize.Kind(d))).Select(d => (string?)Kustomize.PodSpec(d)?["serviceAccountName"]).OfType<string>().Distinct();
        foreach (var account in accounts)
        {
            var verbs = byKind["RoleBinding"]
                .Where(b => (b["subjects"] as JsonArray)?.Any(s => (string?)s?["name"] == account) == true)
                .Select(b => byKind["Role"].FirstOrDefault(r => Kustomize.Name(r) == (string?)b["roleRef"]?["name"]))
                .OfType<JsonObject>()
                .SelectMany(r => (r["rules"] as JsonArray)?.OfType<JsonObject>() ?? [])
                .Where(r => (r["resources"] as JsonArray)?.Any(x => (string?)x == "pods") == true && (r["apiGroups"] as JsonArray)?.Any(x => (string?)x == "") == true)
                .SelectMany(r => (r["verbs"] as JsonArray)?.Select(v => (string?)v ?? "") ?? [])
                .ToHashSet();
            var missing = new[] { "get", "watch", "list", "patch", "delete" }.Where(v => !verbs.Contains(v)).ToList();
            if (missing.Count > 0)
                yield return $"ServiceAccount {account}: its roles lack {string.Join(", ", missing)} on pods (Orleans' Kubernetes hosting needs them)";
        }
    }

    private static IEnumerable<string> AlertProblems(IEnumerable<JsonObject> rules, SourceFacts facts)
    {
        foreach (var rule in rules.SelectMany(r => (r["spec"]?["groups"] as JsonArray)?.OfType<JsonObject>() ?? []).SelectMany(g => (g["rules"] as JsonArray)?.OfType<JsonObject>() ?? []))
        {
            var name = (string?)rule["alert"] ?? (string?)rule["record"] ?? "?";
            var expression = (string?)rule["expr"] ?? "";
            foreach (var series in SeriesName().Matches(expression).Select(m => m.Value).Distinct())
                if (!facts.Series.Contains(series))
                    yield return $"alert {name}: series {series} is not exported by the SrMobile meter";
            foreach (var label in LabelName().Matches(expression).Select(m => m.Groups[1].Value)
                         .Concat(ByClause().Matches(expression).SelectMany(m => m.Groups[1].Value.Split(',').Select(l => l.Trim()))).Distinct())
                if (!facts.SeriesLabels.Contains(label))
                    yield return $"alert {name}: label {label} is on no SrMobile series";
        }
    }

    /// <summary>Image repository → the program its Dockerfile runs (the <c>-t REPO:TAG</c> of its build command, its ENTRYPOINT).</summary>
    public static Dictionary<string, string> DockerfileImages(string root)
    {
        var images = new Dictionary<string, string>();
        foreach (var dockerfile in Directory.GetDirectories(Path.Combine(root, "src")).Select(d => Path.Combine(d, "Dockerfile")).Where(File.Exists))
        {
            var text = File.ReadAllText(dockerfile);
            var entry = EntryPoint().Match(text);
            if (!entry.Success)
                continue;
            foreach (var tag in ImageTag().Matches(text).Select(m => m.Groups[1].Value).Distinct())
                images[tag] = entry.Groups[1].Value;
        }
        return images;
    }

    private static Dictionary<string, int> ContainerPorts(JsonObject container) =>
        ((container["ports"] as JsonArray)?.OfType<JsonObject>() ?? []).ToDictionary(p => (string?)p["name"] ?? $"#{(int?)p["containerPort"]}", p => (int?)p["containerPort"] ?? 0);

    private static bool PortResolves(JsonNode? port, Dictionary<string, int> ports) => port switch
    {
        JsonValue v when v.TryGetValue<string>(out var name) => ports.ContainsKey(name),
        JsonValue v when v.TryGetValue<long>(out var number) => ports.ContainsValue((int)number),
        _ => false,
    };

    private static Dictionary<string, string> Labels(JsonNode? node) =>
        (node as JsonObject)?.ToDictionary(p => p.Key, p => (string?)p.Value ?? "") ?? [];

    private static string Show(Dictionary<string, string> labels) => "{" + string.Join(", ", labels.Select(l => $"{l.Key}={l.Value}")) + "}";

    [GeneratedRegex(@"\$\((\w+)\)")]
    private static partial Regex Reference();

    [GeneratedRegex(@"\bsrmobile_[a-z_]+")]
    private static partial Regex SeriesName();

    [GeneratedRegex(@"[{,]\s*([a-z_]+)\s*(?:=~|!~|!=|=)")]
    private static partial Regex LabelName();

    [GeneratedRegex(@"\bby\s*\(([^)]*)\)")]
    private static partial Regex ByClause();

    [GeneratedRegex(@"ENTRYPOINT \[""\./([\w-]+)""")]
    private static partial Regex EntryPoint();

    [GeneratedRegex(@"-t (srmobile/[\w-]+):")]
    private static partial Regex ImageTag();
}
