using System.CommandLine;
using Grid.Hosting;
using Grid.Hosting.Configuration;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid tls create-dev-certs --out DIR</c>: a private CA and a silo and a client certificate it signed, as PEM files,
/// for trying mutual TLS out (docs/operations.md, "Mutual TLS"). Production certificates come from the cluster's own CA.
/// </summary>
internal static class TlsCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder to write ca.pem/.key, silo.pem/.key, client.pem/.key into.", Required = true };
        var days = new Option<int>("--days") { Description = "Validity in days (default 30).", DefaultValueFactory = _ => 30 };
        var names = new Option<string[]>("--name")
        {
            Description = "Extra DNS name or IP address for the silo certificate (repeat; localhost and 127.0.0.1 are always in).",
            AllowMultipleArgumentsPerToken = true,
        };
        var caName = new Option<string>("--ca-name") { Description = "Common name of the CA (default 'Grid dev CA').", DefaultValueFactory = _ => "Grid dev CA" };
        var create = new Command("create-dev-certs",
            "Write a private CA and a silo and a client certificate it signed (PEM), for trying mutual TLS out.");
        foreach (var option in new Option[] { output, days, names, caName })
        {
            create.Options.Add(option);
        }

        create.SetAction(parse =>
        {
            string folder = Path.GetFullPath(parse.GetValue(output)!);
            int validity = parse.GetValue(days);
            if (validity is < 1 or > 3650)
            {
                throw new GridConfigurationException($"--days is {validity}; give 1 to 3650.");
            }

            var existing = GridDevCertificates.SetFiles.Where(f => File.Exists(Path.Combine(folder, f))).ToList();
            if (existing.Count > 0)
            {
                throw new GridConfigurationException(
                    $"{folder} already holds {string.Join(", ", existing)}; a new CA would orphan the certificates it signed. "
                    + "Give an empty folder with --out, or move those files away first.");
            }

            GridDevCertificates.WriteSet(folder, parse.GetValue(caName)!, TimeSpan.FromDays(validity), parse.GetValue(names) ?? []);
            Console.WriteLine($"wrote {string.Join(", ", GridDevCertificates.SetFiles)} to {folder} (valid {validity} days)");
            Console.WriteLine($"  silo:   grid silo --tls-cert {Path.Combine(folder, "silo.pem")} --tls-key {Path.Combine(folder, "silo.key")} --tls-ca {Path.Combine(folder, "ca.pem")} ...");
            Console.WriteLine($"  client: grid submit --tls-cert {Path.Combine(folder, "client.pem")} --tls-key {Path.Combine(folder, "client.key")} --tls-ca {Path.Combine(folder, "ca.pem")} ...");
            Console.WriteLine("  ca.key signs new certificates: keep it off the silos; for trying out only (docs/operations.md, \"Mutual TLS\").");
            return 0;
        });
        return new Command("tls", "Mutual TLS helpers.") { create };
    }
}
