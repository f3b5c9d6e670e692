using System.Xml.Linq;

namespace Grid.Tasks.Tests.Architecture;

/// <summary>
/// The reference graph of src/ as the README's layout section draws it: a project that gains a reference (and with
/// it, say, libtorch, Orleans' runtime or the Azure SDKs) fails here until the graph and the README say why.
/// </summary>
public sealed class ProjectGraphTests
{
    /// <summary>Each project's direct project references, exactly.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Grid.Core"] = [],
        ["Grid.Learning"] = ["Grid.Core"],
        ["Grid.Tasks"] = ["Grid.Core"],
        ["Grid.Policy"] = ["Grid.Learning", "Grid.Tasks"],
        ["Grid.Training"] = ["Grid.Core", "Grid.Policy"],
        ["Grid.Hosting"] = ["Grid.Core"],
        ["Grid.Contracts"] = ["Grid.Core"],
        ["Grid.Telemetry"] = ["Grid.Core"],
        ["Grid.Grains"] = ["Grid.Contracts", "Grid.Hosting", "Grid.Telemetry", "Grid.Training"],
        ["Grid"] = ["Grid.Grains", "Grid.Telemetry", "Grid.Training"],
    };

    /// <summary>Packages of the projects meant to stay light: every package they may reference.</summary>
    private static readonly Dictionary<string, string[]> AllowedPackages = new()
    {
        ["Grid.Core"] = [],
        ["Grid.Contracts"] = ["Microsoft.Orleans.Sdk"],
        ["Grid.Tasks"] = ["SkiaSharp", "SkiaSharp.NativeAssets.Linux.NoDependencies"],
        ["Grid.Telemetry"] = ["OpenTelemetry.Extensions.Hosting", "OpenTelemetry.Exporter.Prometheus.AspNetCore", "ScottPlot",
            "SkiaSharp", "SkiaSharp.NativeAssets.Linux.NoDependencies"],
    };

    [Fact]
    public void Every_project_in_src_references_exactly_the_projects_the_graph_allows()
    {
        var projects = Projects();
        Assert.Equal(Allowed.Keys.Order(), projects.Keys.Order());
        Assert.All(projects, p => Assert.True(Allowed[p.Key].Order().SequenceEqual(References(p.Value, "ProjectReference").Order()),
            $"{p.Key} references [{string.Join(", ", References(p.Value, "ProjectReference"))}]; the graph allows "
            + $"[{string.Join(", ", Allowed[p.Key])}]"));
    }

    [Fact]
    public void The_shared_records_the_contracts_the_tasks_and_the_telemetry_pull_in_neither_torch_nor_orleans_runtime_nor_azure()
    {
        var projects = Projects();
        Assert.All(AllowedPackages, p => Assert.Empty(References(projects[p.Key], "PackageReference").Except(p.Value)));
        // Nor through a project: their closures hold no project that references TorchSharp or the Azure SDKs.
        foreach (string light in AllowedPackages.Keys)
        {
            var closure = Closure(light, projects);
            Assert.DoesNotContain("Grid.Learning", closure);
            Assert.DoesNotContain("Grid.Hosting", closure);
        }
    }

    private static HashSet<string> Closure(string project, Dictionary<string, XDocument> projects)
    {
        var seen = new HashSet<string>();
        var stack = new Stack<string>(References(projects[project], "ProjectReference"));
        while (stack.TryPop(out var next))
        {
            if (seen.Add(next))
            {
                foreach (var reference in References(projects[next], "ProjectReference"))
                {
                    stack.Push(reference);
                }
            }
        }

        return seen;
    }

    private static IEnumerable<string> References(XDocument project, string item) => project.Descendants(item)
        .Select(e => (string)e.Attribute("Include")!)
        .Select(include => item == "ProjectReference" ? Path.GetFileNameWithoutExtension(include) : include);

    private static Dictionary<string, XDocument> Projects()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Grid.sln")))
        {
            folder = folder.Parent;
        }

        Assert.NotNull(folder);
        return Directory.GetDirectories(Path.Combine(folder.FullName, "src"))
            .Select(d => Path.Combine(d, Path.GetFileName(d) + ".csproj"))
            .Where(File.Exists)
            .ToDictionary(Path.GetFileNameWithoutExtension, path => XDocument.Load(path))!;
    }
}
