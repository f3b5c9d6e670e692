using System.Text.Json;
using System.Text.RegularExpressions;

namespace Grid.Telemetry.Tests.Support;

/// <summary>The PromQL expressions the shipped Grafana dashboard and alert rules evaluate.</summary>
public static class InfraQueries
{
    /// <summary>Every panel query (<c>expr</c>) and, unless told otherwise, every variable query (<c>definition</c>).</summary>
    public static IReadOnlyList<string> Dashboard(bool variables = true)
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(RepoPaths.Dashboard));
        var expressions = new List<string>();
        Collect(dashboard.RootElement, expressions, variables);
        Assert.True(expressions.Count > 20, $"Only {expressions.Count} queries found in {RepoPaths.Dashboard}.");
        return expressions;

        static void Collect(JsonElement element, List<string> into, bool variables)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        if ((property.Name == "expr" || (variables && property.Name == "definition")) && property.Value.ValueKind == JsonValueKind.String)
                        {
                            into.Add(property.Value.GetString()!);
                        }
                        else
                        {
                            Collect(property.Value, into, variables);
                        }
                    }

                    break;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray())
                    {
                        Collect(item, into, variables);
                    }

                    break;
            }
        }
    }

    /// <summary>The <c>expr:</c> of each rule, single-line or a <c>|</c> block.</summary>
    public static IReadOnlyList<string> Alerts()
    {
        var lines = File.ReadAllLines(RepoPaths.AlertRules);
        var expressions = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            var match = Regex.Match(lines[i], @"^(\s*)expr:\s*(.*)$");
            if (!match.Success)
            {
                continue;
            }

            string value = match.Groups[2].Value.Trim();
            if (value is "|" or ">" or "|-" or ">-")
            {
                int indent = match.Groups[1].Value.Length;
                var block = new List<string>();
                while (i + 1 < lines.Length &&
                    (lines[i + 1].Trim().Length == 0 || lines[i + 1].Length - lines[i + 1].TrimStart().Length > indent))
                {
                    block.Add(lines[++i]);
                }

                value = string.Join("\n", block);
            }

            expressions.Add(value);
        }

        Assert.True(expressions.Count >= 5, $"Only {expressions.Count} rules found in {RepoPaths.AlertRules}.");
        return expressions;
    }
}
