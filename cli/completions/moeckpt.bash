# bash completion for moeckpt(1). Written from `moeckpt --help` and `moeckpt COMMAND --help`;
# tests/docs/completion_test.cpp fails when an option printed there is missing here.
# Self-contained (compgen only), so it works without the bash-completion package.

_moeckpt() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  local commands="inspect map experts archs validate convert tensor diff"
  # Global options are accepted before or after the command name.
  local global="-h --help --version --json -q --quiet -v --verbose --color --timeout --revision"

  # The command is the first word that is neither an option nor an option's value.
  local cmd="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    case $w in
      --color | --timeout | --revision) ((i++)) ;;
      -*) ;;
      *) cmd=$w; break ;;
    esac
  done

  # Values of options that take one.
  case $prev in
    --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
    --dequant) COMPREPLY=($(compgen -W "bf16 f16 f32" -- "$cur")); return ;;
    --cast) COMPREPLY=($(compgen -W "BF16 F16 F32 F8_E4M3 F8_E5M2" -- "$cur")); return ;;
    --quantize) COMPREPLY=($(compgen -W "fp8-block mxfp4 fp8-tensor fp8-channel nvfp4" -- "$cur")); return ;;
    --rename) COMPREPLY=($(compgen -W "engine" -- "$cur")); return ;;
    --experts) COMPREPLY=($(compgen -W "per-expert fused engine" -- "$cur")); return ;;
    --moe-backend) COMPREPLY=($(compgen -W "megamoe" -- "$cur")); return ;;
    --arch)
      # Ask the program itself, so the list follows its registry.
      COMPREPLY=($(compgen -W "$(moeckpt archs 2>/dev/null | awk 'NR > 2 && /^[a-z0-9_]+ / && $1 != "moeckpt" {print $1}')" -- "$cur"))
      return ;;
    --rules | --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --finalize) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --filter | --only | --exclude | --max-shard-size | --threads | --worker | --workers | --num-experts | \
      --redundant-experts | --tp | --ep | -n | --count | --atol | --rtol | --timeout | --revision) return ;;
  esac

  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$global" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
    return
  fi

  local opts=""
  case $cmd in
    inspect) opts="--tensors --filter" ;;
    map) opts="--arch --rules --params" ;;
    experts) opts="--arch --config --num-experts --redundant-experts --tp --ep --lora" ;;
    archs) opts="--missing" ;;
    validate) opts="--arch --rules --tp --ep --moe-backend --data --strict --threads" ;;
    convert) opts="--dequant --cast --quantize --saturate --rules --rename --arch --experts --only --exclude
      --text-only --drop-mtp --only-mtp --max-shard-size --threads --dry-run --resume --overwrite --worker --workers --finalize" ;;
    tensor) opts="-n --count --dequant --stats" ;;
    diff) opts="--atol --rtol --threads" ;;
  esac

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
  elif [[ $cmd == archs ]]; then
    COMPREPLY=($(compgen -W "$(moeckpt archs 2>/dev/null | awk 'NR > 2 && /^[a-z0-9_]+ / && $1 != "moeckpt" {print $1}')" -- "$cur"))
  elif [[ $cmd != experts ]]; then
    # Checkpoints: directories, .safetensors/.bin/.pt/.pth files, index files.
    COMPREPLY=($(compgen -f -- "$cur"))
    compopt -o filenames 2>/dev/null
  fi
}

complete -F _moeckpt moeckpt
