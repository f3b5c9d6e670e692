using System.Globalization;
using System.Text;

namespace Grid.Telemetry.Tests.Support;

/// <summary>One sample line of the Prometheus text format.</summary>
public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public bool Has(string label, string value) => Labels.TryGetValue(label, out var v) && v == value;
}

/// <summary>A GET of /metrics, parsed.</summary>
public sealed class Scrape
{
    private Scrape(string text, IReadOnlyList<Sample> samples)
    {
        Text = text;
        Samples = samples;
    }

    public string Text { get; }

    public IReadOnlyList<Sample> Samples { get; }

    public ISet<string> Names => Samples.Select(s => s.Name).ToHashSet();

    public static async Task<Scrape> GetAsync(Uri endpoint)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string text = await http.GetStringAsync(endpoint, TestContext.Current.CancellationToken);
        return Parse(text);
    }

    public IEnumerable<Sample> Where(string name, params (string Label, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Has(l.Label, l.Value)));

    /// <summary>The value of the one sample with that name and those labels.</summary>
    public double Value(string name, params (string Label, string Value)[] labels)
    {
        var matches = Where(name, labels).ToArray();
        Assert.True(matches.Length == 1,
            $"Expected one sample {name}{{{string.Join(",", labels.Select(l => $"{l.Label}=\"{l.Value}\""))}}}, " +
            $"found {matches.Length} in:\n{string.Join("\n", Text.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal)))}");
        return matches[0].Value;
    }

    public static Scrape Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            int brace = line.IndexOf('{');
            int space = line.IndexOf(' ');
            string name;
            var labels = new Dictionary<string, string>();
            string rest;
            if (brace >= 0 && (space < 0 || brace < space))
            {
                name = line[..brace];
                int i = brace + 1;
                while (line[i] != '}')
                {
                    int eq = line.IndexOf('=', i);
                    string key = line[i..eq].Trim();
                    var value = new StringBuilder();
                    int j = eq + 2; // past ="
                    while (line[j] != '"')
                    {
                        if (line[j] == '\\')
                        {
                            j++;
                            value.Append(line[j] == 'n' ? '\n' : line[j]);
                        }
                        else
                        {
                            value.Append(line[j]);
                        }

                        j++;
                    }

                    labels[key] = value.ToString();
                    i = j + 1;
                    if (line[i] == ',')
                    {
                        i++;
                    }
                }

                rest = line[(i + 1)..].Trim();
            }
            else
            {
                name = line[..space];
                rest = line[space..].Trim();
            }

            string number = rest.Split(' ')[0];
            double parsed = number switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(number, CultureInfo.InvariantCulture),
            };
            samples.Add(new Sample(name, labels, parsed));
        }

        return new Scrape(text, samples);
    }
}
