//! One source for the command-line synopsis: the README's "Command line" block is checked
//! against clap's own definition, as the `mro` binary renders it in `--help`.

use std::collections::BTreeSet;

use crate::support::{expect_exit, repo, run_mro};

/// The subcommands `mro --help` lists (its "Commands:" section, without `help`).
fn subcommands() -> Vec<String> {
    let help = expect_exit(&run_mro(&[&"--help"]), 0);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

/// The long flags clap defines for `command` (option lines of `mro COMMAND --help`, without
/// `--help`; hidden flags are not shown and so not required).
fn clap_flags(command: &str) -> BTreeSet<String> {
    let help = expect_exit(&run_mro(&[&command, &"--help"]), 0);
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-h, ").unwrap_or(l);
            let l = if l.len() > 4 && l.as_bytes()[0] == b'-' && &l[2..4] == ", " {
                &l[4..]
            } else {
                l
            };
            l.strip_prefix("--")
                .map(|f| f.split([' ', '<', '=']).next().unwrap_or("").to_string())
        })
        .filter(|f| !f.is_empty() && f != "help")
        .collect()
}

/// The long flags (`--name`) that occur in `text`.
fn flags_in(text: &str) -> BTreeSet<String> {
    text.split("--")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect::<String>()
        })
        .filter(|f| !f.is_empty())
        .collect()
}

/// The README's "Command line" code block, line by line.
fn readme_synopsis() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split("\n## Command line\n")
        .nth(1)
        .expect("README has a `## Command line` section");
    let block = section
        .split("```")
        .nth(1)
        .expect("the Command line section opens with a code block");
    block
        .lines()
        .filter(|l| l.starts_with("mro "))
        .map(String::from)
        .collect()
}

#[test]
fn readme_synopsis_names_every_subcommand_and_flag_clap_has_and_no_other() {
    let lines = readme_synopsis();
    let commands = subcommands();
    assert!(commands.len() >= 8, "subcommands parsed: {commands:?}");
    let mut problems = Vec::new();
    for line in &lines {
        let name = line.split_whitespace().nth(1).unwrap_or("");
        if !commands.iter().any(|c| c == name) {
            problems.push(format!(
                "README names `mro {name}`, which clap does not define"
            ));
        }
    }
    for command in &commands {
        let readme: BTreeSet<String> = lines
            .iter()
            .filter(|l| l.split_whitespace().nth(1) == Some(command.as_str()))
            .flat_map(|l| flags_in(l))
            .collect();
        if !lines
            .iter()
            .any(|l| l.split_whitespace().nth(1) == Some(command.as_str()))
        {
            problems.push(format!("README has no line for `mro {command}`"));
            continue;
        }
        let clap = clap_flags(command);
        for missing in clap.difference(&readme) {
            problems.push(format!("README's `mro {command}` lacks --{missing}"));
        }
        for extra in readme.difference(&clap) {
            problems.push(format!(
                "README's `mro {command}` names --{extra}, which clap lacks"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_flag_scanner_sees_flags_and_nothing_else() {
    assert_eq!(
        flags_in("mro x A [--out DIR] [--set K=V]... # a -- b --no-control"),
        ["no-control", "out", "set"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}
